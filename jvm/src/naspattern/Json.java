package naspattern;

import java.util.Map;

/**
 * Writes a config map as a JSON object: keys and strings quoted and escaped, numbers as they are.
 * Written here rather than with a JSON library (Debian packages gson) because a config is one flat
 * object of strings, numbers and booleans, and every user's class path would carry another jar for
 * these forty lines; the engine parses what this writes with Python's json module, and the tests
 * send it every kind of value.
 */
final class Json {
    private Json() {
    }

    static String object(Map<String, ?> map) {
        StringBuilder out = new StringBuilder("{");
        for (Map.Entry<String, ?> entry : map.entrySet()) {
            if (out.length() > 1) {
                out.append(", ");
            }
            string(out, entry.getKey());
            out.append(": ");
            Object value = entry.getValue();
            if (value == null || value instanceof Number || value instanceof Boolean) {
                out.append(value);
            } else {
                string(out, value.toString());
            }
        }
        return out.append('}').toString();
    }

    private static void string(StringBuilder out, String text) {
        out.append('"');
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}
