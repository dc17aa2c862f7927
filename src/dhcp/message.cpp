// SPDX-License-Identifier: MIT
// CORE: DHCPv4 message codec.
#include "dhcp/message.hpp"

#include <cstring>

#include <cstdio>

namespace paddock::dhcp {

namespace {

// Bounds-checked big-endian reader over a span.
class reader {
public:
    explicit reader(std::span<const std::uint8_t> b) : b_(b) {}
    bool can(std::size_t n) const { return b_.size() - pos_ >= n; }
    std::uint8_t u8() { return b_[pos_++]; }
    std::uint16_t u16()
    {
        std::uint16_t v = static_cast<std::uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    std::uint32_t u32()
    {
        std::uint32_t v = std::uint32_t{b_[pos_]} << 24 | std::uint32_t{b_[pos_ + 1]} << 16 |
                          std::uint32_t{b_[pos_ + 2]} << 8 | b_[pos_ + 3];
        pos_ += 4;
        return v;
    }
    std::span<const std::uint8_t> bytes(std::size_t n)
    {
        auto s = b_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    std::size_t pos() const { return pos_; }
    std::span<const std::uint8_t> rest() const { return b_.subspan(pos_); }

private:
    std::span<const std::uint8_t> b_;
    std::size_t pos_ = 0;
};

std::string field_string(std::span<const std::uint8_t> s)
{
    std::string out;
    for (auto c : s) {
        if (c == 0)
            break;
        out += static_cast<char>(c);
    }
    return out;
}

// Parses an options area into `out`, concatenating repeated codes. Returns false on a truncated
// option. Stops at END; a missing END is tolerated (many clients pad instead).
bool parse_options(std::span<const std::uint8_t> area, std::map<std::uint8_t, std::vector<std::uint8_t>>& out)
{
    std::size_t i = 0;
    while (i < area.size()) {
        std::uint8_t code = area[i++];
        if (code == opt::pad)
            continue;
        if (code == opt::end)
            return true;
        if (i >= area.size())
            return false;
        std::size_t len = area[i++];
        if (area.size() - i < len)
            return false;
        auto& v = out[code];
        v.insert(v.end(), area.begin() + static_cast<std::ptrdiff_t>(i), area.begin() + static_cast<std::ptrdiff_t>(i + len));
        i += len;
    }
    return true;
}

void put16(std::vector<std::uint8_t>& b, std::uint16_t v)
{
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(std::vector<std::uint8_t>& b, std::uint32_t v)
{
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
void put_option(std::vector<std::uint8_t>& b, std::uint8_t code, const std::vector<std::uint8_t>& v)
{
    std::size_t off = 0;
    do {
        std::size_t n = std::min<std::size_t>(255, v.size() - off);
        b.push_back(code);
        b.push_back(static_cast<std::uint8_t>(n));
        b.insert(b.end(), v.begin() + static_cast<std::ptrdiff_t>(off), v.begin() + static_cast<std::ptrdiff_t>(off + n));
        off += n;
    } while (off < v.size());
}

} // namespace

const char* to_string(msg_type t)
{
    switch (t) {
    case msg_type::discover: return "DISCOVER";
    case msg_type::offer: return "OFFER";
    case msg_type::request: return "REQUEST";
    case msg_type::decline: return "DECLINE";
    case msg_type::ack: return "ACK";
    case msg_type::nak: return "NAK";
    case msg_type::release: return "RELEASE";
    case msg_type::inform: return "INFORM";
    }
    return "?";
}

std::optional<msg_type> message::type() const
{
    auto it = options.find(opt::message_type);
    if (it == options.end() || it->second.size() != 1 || it->second[0] < 1 || it->second[0] > 8)
        return std::nullopt;
    return static_cast<msg_type>(it->second[0]);
}

std::optional<ipv4> message::ip_option(std::uint8_t code) const
{
    auto it = options.find(code);
    if (it == options.end() || it->second.size() != 4)
        return std::nullopt;
    auto& v = it->second;
    return ipv4{std::uint32_t{v[0]} << 24 | std::uint32_t{v[1]} << 16 | std::uint32_t{v[2]} << 8 | v[3]};
}

std::optional<std::uint16_t> message::u16_option(std::uint8_t code) const
{
    auto it = options.find(code);
    if (it == options.end() || it->second.size() != 2)
        return std::nullopt;
    return static_cast<std::uint16_t>(it->second[0] << 8 | it->second[1]);
}

std::optional<std::string> message::string_option(std::uint8_t code) const
{
    auto it = options.find(code);
    if (it == options.end() || it->second.empty())
        return std::nullopt;
    std::string s(it->second.begin(), it->second.end());
    while (!s.empty() && s.back() == '\0')
        s.pop_back();
    return s;
}

std::string message::mac() const
{
    // Called for every packet: no printf.
    static constexpr char digits[] = "0123456789abcdef";
    const std::size_t n = std::min<std::size_t>(hlen, chaddr.size());
    std::string out(n ? n * 3 - 1 : 0, ':');
    for (std::size_t i = 0; i < n; ++i) {
        out[i * 3] = digits[chaddr[i] >> 4];
        out[i * 3 + 1] = digits[chaddr[i] & 15];
    }
    return out;
}

void message::set_ip(std::uint8_t code, ipv4 a) { set_u32(code, a.value); }
void message::set_u32(std::uint8_t code, std::uint32_t v)
{
    options[code] = {static_cast<std::uint8_t>(v >> 24), static_cast<std::uint8_t>(v >> 16),
                     static_cast<std::uint8_t>(v >> 8), static_cast<std::uint8_t>(v)};
}
void message::set_u8(std::uint8_t code, std::uint8_t v) { options[code] = {v}; }
void message::set_string(std::uint8_t code, const std::string& s) { options[code].assign(s.begin(), s.end()); }

result<message> decode(std::span<const std::uint8_t> bytes)
{
    reader r(bytes);
    if (!r.can(fixed_header + 4))
        return fail(errc::truncated, "packet of " + std::to_string(bytes.size()) + " bytes is shorter than a DHCP header");
    message m;
    m.op = r.u8();
    m.htype = r.u8();
    m.hlen = r.u8();
    m.hops = r.u8();
    m.xid = r.u32();
    m.secs = r.u16();
    m.flags = r.u16();
    m.ciaddr.value = r.u32();
    m.yiaddr.value = r.u32();
    m.siaddr.value = r.u32();
    m.giaddr.value = r.u32();
    auto ch = r.bytes(16);
    std::copy(ch.begin(), ch.end(), m.chaddr.begin());
    auto sname = r.bytes(64);
    auto file = r.bytes(128);
    if (m.op != 1 && m.op != 2)
        return fail(errc::bad_op, "op " + std::to_string(m.op) + " is neither BOOTREQUEST nor BOOTREPLY");
    if (m.hlen > 16)
        return fail(errc::bad_hlen, "hardware address length " + std::to_string(m.hlen) + " exceeds 16");
    if (r.u32() != magic_cookie)
        return fail(errc::bad_cookie, "no DHCP magic cookie");
    if (!parse_options(r.rest(), m.options))
        return fail(errc::bad_option, "an option runs past the end of the packet");
    // Option overload (RFC 2132 §9.3): 1 = file, 2 = sname, 3 = both carry more options.
    std::uint8_t overload = 0;
    if (auto it = m.options.find(opt::overload); it != m.options.end()) {
        if (it->second.size() != 1 || it->second[0] < 1 || it->second[0] > 3)
            return fail(errc::bad_option, "malformed option overload (52)");
        overload = it->second[0];
        m.options.erase(it);
    }
    if (overload & 1) {
        if (!parse_options(file, m.options))
            return fail(errc::bad_option, "an option in the file field runs past its end");
    }
    else
        m.file = field_string(file);
    if (overload & 2) {
        if (!parse_options(sname, m.options))
            return fail(errc::bad_option, "an option in the sname field runs past its end");
    }
    else
        m.sname = field_string(sname);
    return m;
}

std::vector<std::uint8_t> encode(const message& m)
{
    std::vector<std::uint8_t> b;
    b.reserve(548);
    b.push_back(m.op);
    b.push_back(m.htype);
    b.push_back(m.hlen);
    b.push_back(m.hops);
    put32(b, m.xid);
    put16(b, m.secs);
    put16(b, m.flags);
    for (auto a : {m.ciaddr, m.yiaddr, m.siaddr, m.giaddr})
        put32(b, a.value);
    b.insert(b.end(), m.chaddr.begin(), m.chaddr.end());
    // sname/file: the text (NUL-terminated, truncated to fit), then zeros.
    auto fixed_field = [&](const std::string& s, std::size_t n) {
        const std::size_t at = b.size(), k = std::min(s.size(), n - 1);
        b.resize(at + n, 0);
        std::memcpy(b.data() + at, s.data(), k);
    };
    fixed_field(m.sname, 64);
    fixed_field(m.file, 128);
    put32(b, magic_cookie);
    for (std::uint8_t first : {opt::message_type, opt::server_id})
        if (auto it = m.options.find(first); it != m.options.end())
            put_option(b, first, it->second);
    for (auto& [code, v] : m.options)
        if (code != opt::message_type && code != opt::server_id && code != opt::pad && code != opt::end)
            put_option(b, code, v);
    b.push_back(opt::end);
    if (b.size() < 300)
        b.resize(300, 0); // the BOOTP minimum
    return b;
}

} // namespace paddock::dhcp
