// SPDX-License-Identifier: MIT
// CORE: port forward parsing and overlap.
#include "vm/forwards.hpp"

#include <charconv>

#include <boost/json.hpp>

#include "base/ipv4.hpp"

namespace paddock::vm {
namespace json = boost::json;

namespace {
failure bad(const std::string& field, const std::string& what) { return fail(errc::invalid_field, field + ": " + what); }

status read_proto(std::string_view p, const std::string& field, std::string& out)
{
    if (p != "tcp" && p != "udp")
        return bad(field, "\"" + std::string(p) + "\" is not one of \"tcp\", \"udp\"");
    out = std::string(p);
    return ok();
}

status read_port(const json::value& v, const std::string& field, std::uint16_t& out)
{
    if (!(v.is_int64() && v.get_int64() >= 1 && v.get_int64() <= 65535) && !(v.is_uint64() && v.get_uint64() <= 65535 && v.get_uint64() >= 1))
        return bad(field, "expected a port number from 1 to 65535, got " + json::serialize(v));
    out = static_cast<std::uint16_t>(v.to_number<std::int64_t>());
    return ok();
}

status read_listen(const json::value& v, const std::string& field, std::string& out)
{
    if (!v.is_string())
        return bad(field, "expected an IPv4 address of this host or \"0.0.0.0\" (every address), got " + json::serialize(v));
    auto a = parse_ipv4(std::string_view(v.get_string()));
    if (!a)
        return bad(field, "\"" + std::string(v.get_string()) + "\" is not an IPv4 address (\"0.0.0.0\": every address)");
    if ((a->value >> 24) == 127)
        return bad(field, "\"" + std::string(v.get_string()) + "\" is a loopback address: the host reaches a forward at "
                                                               "its own other addresses (the kernel does not route loopback to a VM)");
    out = to_string(*a);
    return ok();
}

// guest_port and listen of an object (and proto and host_port `with_key`); other members refused.
status read_body(const json::object& o, const std::string& prefix, port_map& f, bool with_key)
{
    bool guest_given = false;
    for (auto& [k, v] : o) {
        const std::string field = prefix + std::string(k);
        status st = ok();
        if (k == "guest_port") {
            st = read_port(v, field, f.guest_port);
            guest_given = true;
        }
        else if (k == "listen")
            st = read_listen(v, field, f.listen);
        else if (with_key && k == "proto") {
            if (!v.is_string())
                st = bad(field, "expected \"tcp\" or \"udp\", got " + json::serialize(v));
            else
                st = read_proto(v.get_string(), field, f.proto);
        }
        else if (with_key && k == "host_port")
            st = read_port(v, field, f.host_port);
        else
            st = bad(field, with_key ? "unknown field (proto, host_port, guest_port, listen)"
                                     : "unknown field (guest_port, listen)");
        if (!st)
            return st;
    }
    if (!guest_given)
        f.guest_port = f.host_port;
    return ok();
}
} // namespace

result<port_map> parse_forward_key(std::string_view proto, std::string_view host_port)
{
    port_map f;
    if (auto st = read_proto(proto, "proto", f.proto); !st)
        return st.error();
    unsigned n = 0;
    auto [end, ec] = std::from_chars(host_port.data(), host_port.data() + host_port.size(), n);
    if (ec != std::errc() || end != host_port.data() + host_port.size() || n < 1 || n > 65535)
        return bad("host_port", "\"" + std::string(host_port) + "\" is not a port number from 1 to 65535");
    f.host_port = static_cast<std::uint16_t>(n);
    f.guest_port = f.host_port;
    return f;
}

result<port_map> parse_forward(std::string_view proto, std::string_view host_port, std::string_view body)
{
    auto f = parse_forward_key(proto, host_port);
    if (!f)
        return f;
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return f;
    boost::system::error_code ec;
    json::value v = json::parse(body, ec);
    if (ec)
        return fail(errc::invalid_json, "request body is not valid JSON: " + ec.message());
    if (!v.is_object())
        return fail(errc::invalid_json, "request body must be a JSON object {\"guest_port\", \"listen\"}");
    if (auto st = read_body(v.get_object(), "", *f, false); !st)
        return st.error();
    return f;
}

result<port_map> read_forward(const json::value& v, const std::string& field)
{
    if (!v.is_object())
        return bad(field, "expected an object {\"proto\", \"host_port\", \"guest_port\", \"listen\"}");
    port_map f;
    if (auto st = read_body(v.get_object(), field + ".", f, true); !st)
        return st.error();
    if (f.proto.empty())
        return bad(field + ".proto", "required (\"tcp\" or \"udp\")");
    if (f.host_port == 0)
        return bad(field + ".host_port", "required (1 to 65535)");
    if (!v.get_object().contains("guest_port"))
        f.guest_port = f.host_port;
    return f;
}

bool overlaps(const port_map& a, const port_map& b)
{
    return a.proto == b.proto && a.host_port == b.host_port &&
           (a.listen == b.listen || a.listen == "0.0.0.0" || b.listen == "0.0.0.0");
}

std::string forward_name(const port_map& f)
{
    return f.proto + "/" + std::to_string(f.host_port) + " on " + f.listen;
}

} // namespace paddock::vm
