// SPDX-License-Identifier: MIT
// CORE: QMP framing and classification.
#include "qmp/protocol.hpp"

#include <boost/json.hpp>

namespace paddock::qmp {
namespace json = boost::json;

std::optional<std::string> line_splitter::next()
{
    auto nl = buf_.find('\n', pos_);
    if (nl == std::string::npos) {
        if (pos_ > 0 && pos_ == buf_.size()) {
            buf_.clear();
            pos_ = 0;
        }
        return std::nullopt;
    }
    std::string line = buf_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    if (pos_ > 65536 && pos_ * 2 > buf_.size()) {
        buf_.erase(0, pos_);
        pos_ = 0;
    }
    if (!line.empty() && line.back() == '\r')
        line.pop_back();
    return line;
}

message classify(std::string_view line)
{
    message m;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec) {
        m.problem = "not JSON: " + ec.message();
        return m;
    }
    if (!v.is_object()) {
        m.problem = "not a JSON object";
        return m;
    }
    auto& o = v.get_object();
    if (auto* id = o.if_contains("id")) {
        if (id->is_string())
            m.id = std::string(id->get_string());
        else
            m.id = json::serialize(*id);
    }
    if (o.contains("QMP")) {
        m.k = kind::greeting;
    }
    else if (auto* r = o.if_contains("return")) {
        m.k = kind::reply;
        m.ret = *r;
    }
    else if (auto* e = o.if_contains("error")) {
        m.k = kind::error;
        if (e->is_object()) {
            auto& eo = e->get_object();
            if (auto* c = eo.if_contains("class"); c && c->is_string())
                m.error_class = std::string(c->get_string());
            if (auto* d = eo.if_contains("desc"); d && d->is_string())
                m.error_desc = std::string(d->get_string());
        }
    }
    else if (auto* ev = o.if_contains("event"); ev && ev->is_string()) {
        m.k = kind::event;
        m.event = std::string(ev->get_string());
        if (auto* d = o.if_contains("data"); d && d->is_object())
            m.data = d->get_object();
    }
    else {
        m.problem = "neither greeting, reply, error nor event";
    }
    return m;
}

std::string command_line(std::string_view cmd, const json::object& args, std::string_view id)
{
    json::object o{{"execute", cmd}};
    if (!args.empty())
        o["arguments"] = args;
    if (!id.empty())
        o["id"] = id;
    return json::serialize(o) + "\n";
}

} // namespace paddock::qmp
