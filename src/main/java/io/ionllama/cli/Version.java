package io.ionllama.cli;

import picocli.CommandLine;

/** Version line from the jar manifest (falls back to "dev" when run from classes). */
final class Version implements CommandLine.IVersionProvider {
    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    /**
     * The git commit the jar was built from: {@code -Dionllama.commit} when given, else the jar
     * manifest's {@code Git-Commit} (scripts/ionllama stamps it when it builds the jar: {@code git
     * describe --always --dirty}), else "unknown" (e.g. run from classes, or built without git).
     */
    static String commit() {
        String p = System.getProperty("ionllama.commit");
        if (p != null && !p.isBlank()) {
            return p.strip();
        }
        try {
            var src = Main.class.getProtectionDomain().getCodeSource();
            java.nio.file.Path jar = src == null ? null : java.nio.file.Path.of(src.getLocation().toURI());
            if (jar != null && java.nio.file.Files.isRegularFile(jar)) {
                try (var jf = new java.util.jar.JarFile(jar.toFile())) {
                    var mf = jf.getManifest();
                    String c = mf == null ? null : mf.getMainAttributes().getValue("Git-Commit");
                    if (c != null && !c.isBlank() && !c.contains("${")) {
                        return c.strip();
                    }
                }
            }
        } catch (Exception e) {
            // no jar or no manifest: unknown
        }
        return "unknown";
    }

    @Override
    public String[] getVersion() {
        return new String[] {
            "ionllama " + version(),
            "JVM " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
        };
    }
}
