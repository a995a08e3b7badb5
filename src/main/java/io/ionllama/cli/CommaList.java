package io.ionllama.cli;

/**
 * Comma-separated number lists of flags ({@code --ngrams 3,4,5}, {@code --noise 0.1,0.5},
 * {@code --reference 256,4096}). Not picocli's {@code split = ","}: it reads {@code ''} as one empty
 * number instead of an empty list. Blank (or {@code none}) is the empty list; an item that is not a
 * number is one line naming the flag and an example.
 */
final class CommaList {

    private CommaList() {}

    static int[] ints(String flag, String spec, String example) {
        String[] parts = items(spec);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException e) {
                throw bad(flag, spec, example);
            }
        }
        return out;
    }

    static double[] doubles(String flag, String spec, String example) {
        String[] parts = items(spec);
        double[] out = new double[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                out[i] = Double.parseDouble(parts[i].strip());
            } catch (NumberFormatException e) {
                throw bad(flag, spec, example);
            }
        }
        return out;
    }

    private static String[] items(String spec) {
        return spec.isBlank() || spec.strip().equals("none") ? new String[0] : spec.split(",", -1);
    }

    private static Errors.UserError bad(String flag, String spec, String example) {
        return new Errors.UserError(flag + " must be a comma-separated list like " + example + " (got '" + spec + "')");
    }
}
