package io.ionllama.cli;

import picocli.CommandLine;

/** Version line from the jar manifest (falls back to "dev" when run from classes). */
final class Version implements CommandLine.IVersionProvider {
    static String version() {
        String v = Main.class.getPackage().getImplementationVersion();
        return v == null ? "dev" : v;
    }

    @Override
    public String[] getVersion() {
        return new String[] {
            "ionllama " + version(),
            "JVM " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"),
        };
    }
}
