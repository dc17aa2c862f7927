#!/usr/bin/env python3
"""Build step: writes a C++ source defining `std::string_view NAME()` returning the bytes of a file."""
import sys

src, out, name = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write("// Generated from %s by embed.py; do not edit.\n#include <string_view>\n" % src.split("/")[-1])
    f.write("namespace paddock::api {\nstd::string_view %s()\n{\n    static const char bytes[] = {\n" % name)
    for i in range(0, len(data), 24):
        f.write("        " + ",".join(str(b) for b in data[i:i + 24]) + ",\n")
    f.write("        0};\n    return std::string_view(bytes, sizeof bytes - 1);\n}\n}\n")
