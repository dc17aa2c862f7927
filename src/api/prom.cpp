// SPDX-License-Identifier: MIT
// CORE: Prometheus text exposition.
#include "api/prom.hpp"

#include <charconv>
#include <cmath>
#include <vector>

namespace paddock::api {

namespace {
void append_number(std::string& out, double v)
{
    if (std::isnan(v)) {
        out += "NaN";
        return;
    }
    if (std::isinf(v)) {
        out += v > 0 ? "+Inf" : "-Inf";
        return;
    }
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, end);
}

// Help texts escape backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote)
{
    for (char c : text) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else if (quote && c == '"')
            out += "\\\"";
        else
            out += c;
    }
}
} // namespace

void prom::family(std::string_view name, std::string_view type, std::string_view help)
{
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    append_escaped(out_, help, false);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
}

void prom::sample(std::string_view name, std::initializer_list<label> labels, double value)
{
    sample(name, std::span<const label>(labels.begin(), labels.size()), value);
}

void prom::sample(std::string_view name, std::span<const label> labels, double value)
{
    out_ += name;
    if (!labels.empty()) {
        out_ += '{';
        bool first = true;
        for (auto& [k, v] : labels) {
            if (!first)
                out_ += ',';
            first = false;
            out_ += k;
            out_ += "=\"";
            append_escaped(out_, v, true);
            out_ += '"';
        }
        out_ += '}';
    }
    out_ += ' ';
    append_number(out_, value);
    out_ += '\n';
}

void prom::write(const metric_list& m)
{
    std::vector<label> labels;
    for (auto& f : m.families()) {
        family(f.name, f.type, f.help);
        for (auto& s : f.samples) {
            labels.clear();
            for (auto& [k, v] : s.labels)
                labels.emplace_back(k, v);
            sample(f.name, std::span<const label>(labels), s.value);
        }
    }
}

} // namespace paddock::api
