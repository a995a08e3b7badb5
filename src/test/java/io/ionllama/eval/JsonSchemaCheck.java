package io.ionllama.eval;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A JSON Schema (draft 2020-12) check of the keywords results.schema.json uses: type, const,
 * required, properties, additionalProperties, items, minimum, pattern. A keyword it does not know
 * is an error, so the schema cannot grow a rule this check would silently skip.
 */
public final class JsonSchemaCheck {
    private JsonSchemaCheck() {}

    private static final Set<String> ANNOTATIONS = Set.of("$schema", "$id", "title", "description");

    /** The schema of results.json, as the jar ships it. */
    public static JsonObject resultsSchema() throws java.io.IOException {
        try (java.io.InputStream in = ResultsJson.class.getResourceAsStream("results.schema.json")) {
            if (in == null) {
                throw new java.io.FileNotFoundException("results.schema.json is not on the class path");
            }
            return com.google.gson.JsonParser.parseString(new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8))
                    .getAsJsonObject();
        }
    }

    /** The violations of {@code doc} against {@code schema}, each as "path: what"; empty when it conforms. */
    public static List<String> violations(JsonObject schema, JsonElement doc) {
        List<String> out = new ArrayList<>();
        check(schema, doc, "$", out);
        return out;
    }

    private static void check(JsonObject schema, JsonElement v, String path, List<String> out) {
        for (Map.Entry<String, JsonElement> e : schema.entrySet()) {
            String k = e.getKey();
            JsonElement s = e.getValue();
            switch (k) {
                case "type" -> {
                    List<String> types = new ArrayList<>();
                    if (s.isJsonArray()) {
                        s.getAsJsonArray().forEach(t -> types.add(t.getAsString()));
                    } else {
                        types.add(s.getAsString());
                    }
                    if (types.stream().noneMatch(t -> isType(v, t))) {
                        out.add(path + ": expected " + types + ", got " + v);
                    }
                }
                case "const" -> {
                    if (!s.equals(v)) {
                        out.add(path + ": expected " + s + ", got " + v);
                    }
                }
                case "required" -> {
                    if (v.isJsonObject()) {
                        for (JsonElement r : s.getAsJsonArray()) {
                            if (!v.getAsJsonObject().has(r.getAsString())) {
                                out.add(path + ": missing " + r.getAsString());
                            }
                        }
                    }
                }
                case "properties" -> {
                    if (v.isJsonObject()) {
                        for (Map.Entry<String, JsonElement> p : s.getAsJsonObject().entrySet()) {
                            if (v.getAsJsonObject().has(p.getKey())) {
                                check(p.getValue().getAsJsonObject(), v.getAsJsonObject().get(p.getKey()), path + "." + p.getKey(), out);
                            }
                        }
                    }
                }
                case "additionalProperties" -> {
                    if (v.isJsonObject()) {
                        JsonObject props = schema.has("properties") ? schema.getAsJsonObject("properties") : new JsonObject();
                        for (Map.Entry<String, JsonElement> p : v.getAsJsonObject().entrySet()) {
                            if (props.has(p.getKey())) {
                                continue;
                            }
                            if (s.isJsonPrimitive() && !s.getAsBoolean()) {
                                out.add(path + ": unexpected property " + p.getKey());
                            } else if (s.isJsonObject()) {
                                check(s.getAsJsonObject(), p.getValue(), path + "." + p.getKey(), out);
                            }
                        }
                    }
                }
                case "items" -> {
                    if (v.isJsonArray()) {
                        JsonArray a = v.getAsJsonArray();
                        for (int i = 0; i < a.size(); i++) {
                            check(s.getAsJsonObject(), a.get(i), path + "[" + i + "]", out);
                        }
                    }
                }
                case "minimum" -> {
                    if (isType(v, "number") && v.getAsDouble() < s.getAsDouble()) {
                        out.add(path + ": below the minimum " + s);
                    }
                }
                case "pattern" -> {
                    if (isType(v, "string") && !Pattern.compile(s.getAsString()).matcher(v.getAsString()).find()) {
                        out.add(path + ": does not match " + s.getAsString());
                    }
                }
                default -> {
                    if (!ANNOTATIONS.contains(k)) {
                        throw new IllegalArgumentException("schema keyword '" + k + "' at " + path + " is not checked by JsonSchemaCheck");
                    }
                }
            }
        }
    }

    private static boolean isType(JsonElement v, String type) {
        JsonPrimitive p = v.isJsonPrimitive() ? v.getAsJsonPrimitive() : null;
        return switch (type) {
            case "object" -> v.isJsonObject();
            case "array" -> v.isJsonArray();
            case "null" -> v.isJsonNull();
            case "string" -> p != null && p.isString();
            case "boolean" -> p != null && p.isBoolean();
            case "number" -> p != null && p.isNumber();
            case "integer" -> p != null && p.isNumber() && p.getAsBigDecimal().stripTrailingZeros().scale() <= 0;
            default -> throw new IllegalArgumentException("unknown type " + type);
        };
    }
}
