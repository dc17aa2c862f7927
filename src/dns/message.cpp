// SPDX-License-Identifier: MIT
// CORE: DNS wire format.
#include "dns/message.hpp"

#include <algorithm>

namespace paddock::dns {
namespace {

constexpr std::uint16_t flag_qr = 0x8000, flag_aa = 0x0400, flag_tc = 0x0200, flag_rd = 0x0100, flag_ra = 0x0080;

failure bad(std::string why) { return fail(errc::dns_malformed, std::move(why)); }

std::uint32_t get32(view m, std::size_t at)
{
    return static_cast<std::uint32_t>(m[at]) << 24 | static_cast<std::uint32_t>(m[at + 1]) << 16 |
           static_cast<std::uint32_t>(m[at + 2]) << 8 | m[at + 3];
}

std::uint8_t lower(std::uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<std::uint8_t>(c + 32) : c; }

// Whether [from, to) overlaps one of the 4-byte TTL fields at `ttls`.
bool touches(const std::vector<std::size_t>* ttls, std::size_t from, std::size_t to)
{
    if (ttls)
        for (std::size_t t : *ttls)
            if (from < t + 4 && t < to)
                return true;
    return false;
}

// Walks the name at `off`; `next` is the offset after it where it sits. Compression pointers are
// followed only when `compressed`, only backwards and never into the header (so never in a loop),
// and once a pointer was followed every byte read must lie before it: a name never reads the
// fields of its own record. Nor may it read a TTL field in `ttls`: the cache rewrites those, and
// a name that overlapped one would change under it. Fills whichever of `dotted`, `wire` and `plain`
// is given.
bool walk_name(view m, std::size_t off, std::size_t& next, bool compressed, std::string* dotted = nullptr,
               bytes* wire = nullptr, bool* plain = nullptr, const std::vector<std::size_t>* ttls = nullptr)
{
    std::size_t pos = off, total = 1, limit = m.size();
    bool jumped = false;
    for (int hops = 0;; ) {
        if (pos >= limit)
            return false;
        std::uint8_t len = m[pos];
        if ((len & 0xC0) == 0xC0) {
            if (!compressed || pos + 1 >= limit || ++hops > 64 || touches(ttls, pos, pos + 2))
                return false;
            std::size_t target = static_cast<std::size_t>(len & 0x3F) << 8 | m[pos + 1];
            if (target >= pos || target < header_size)
                return false;
            if (!jumped) {
                next = pos + 2;
                limit = pos;
            }
            jumped = true;
            pos = target;
            continue;
        }
        if ((len & 0xC0) != 0)
            return false; // extended label types (RFC 6891 retired them)
        if (touches(ttls, pos, pos + 1 + len))
            return false;
        if (len == 0) {
            if (!jumped)
                next = pos + 1;
            if (wire)
                wire->push_back(0);
            return true;
        }
        if (pos + 1 + len > limit || (total += len + 1) > 255)
            return false;
        if (wire)
            wire->push_back(len);
        if (dotted && !dotted->empty())
            dotted->push_back('.');
        for (std::size_t i = pos + 1; i <= pos + len; ++i) {
            std::uint8_t c = lower(m[i]);
            if (plain && (c == '.' || c <= ' ' || c >= 0x7F))
                *plain = false;
            if (dotted)
                dotted->push_back(static_cast<char>(c));
            if (wire)
                wire->push_back(c);
        }
        pos += 1 + len;
    }
}

struct rr_view {
    std::uint16_t rtype = 0, rclass = 0;
    std::size_t ttl_at = 0, rdata_at = 0, rdlen = 0;
};

// One resource record at `pos`; advances `pos` past it. Its owner name may not read `ttls`.
bool read_rr(view m, std::size_t& pos, rr_view& rr, const std::vector<std::size_t>* ttls = nullptr)
{
    std::size_t next = 0;
    if (!walk_name(m, pos, next, true, nullptr, nullptr, nullptr, ttls) || next + 10 > m.size())
        return false;
    rr.rtype = get16(m, next);
    rr.rclass = get16(m, next + 2);
    rr.ttl_at = next + 4;
    rr.rdlen = get16(m, next + 8);
    rr.rdata_at = next + 10;
    if (rr.rdata_at + rr.rdlen > m.size())
        return false;
    pos = rr.rdata_at + rr.rdlen;
    return true;
}

void append16(bytes& out, std::uint16_t v)
{
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v));
}

void append32(bytes& out, std::uint32_t v)
{
    append16(out, static_cast<std::uint16_t>(v >> 16));
    append16(out, static_cast<std::uint16_t>(v));
}

void append_record(bytes& out, const record& r)
{
    if (r.owner)
        out.insert(out.end(), r.owner->begin(), r.owner->end());
    else {
        out.push_back(0xC0);
        out.push_back(static_cast<std::uint8_t>(header_size));
    }
    append16(out, r.rtype);
    append16(out, class_in);
    append32(out, r.ttl);
    append16(out, static_cast<std::uint16_t>(r.rdata.size()));
    out.insert(out.end(), r.rdata.begin(), r.rdata.end());
}

} // namespace

result<query> parse_query(view m)
{
    if (m.size() < header_size)
        return bad("shorter than a DNS header (" + std::to_string(m.size()) + " bytes)");
    query q;
    q.id = get16(m, 0);
    q.flags = get16(m, 2);
    if (q.flags & flag_qr)
        return bad("a response, not a query");
    const std::uint16_t qd = get16(m, 4);
    if (qd != 1)
        return bad(std::to_string(qd) + " questions (a query has one)");
    std::size_t pos = header_size, next = 0;
    if (!walk_name(m, pos, next, false, &q.name, &q.wire_name, &q.plain_name))
        return bad("the question's name is cut short, too long or compressed");
    if (next + 4 > m.size())
        return bad("the question ends before its type and class");
    q.qtype = get16(m, next);
    q.qclass = get16(m, next + 2);
    q.question_end = next + 4;
    pos = q.question_end;
    const std::size_t records = std::size_t{get16(m, 6)} + get16(m, 8) + get16(m, 10);
    const std::size_t additional_from = std::size_t{get16(m, 6)} + get16(m, 8);
    for (std::size_t i = 0; i < records; ++i) {
        rr_view rr;
        if (!read_rr(m, pos, rr))
            return bad("record " + std::to_string(i + 1) + " after the question is cut short");
        if (rr.rtype != type::opt)
            continue;
        if (i < additional_from || q.edns)
            return bad("an OPT record outside the additional section, or two of them");
        q.edns = true;
        q.udp_size = std::max<std::uint16_t>(512, rr.rclass);
        q.dnssec_ok = (get32(m, rr.ttl_at) & 0x8000) != 0;
    }
    return q;
}

result<reply_info> parse_reply(view m)
{
    if (m.size() < header_size)
        return bad("shorter than a DNS header");
    reply_info r;
    r.id = get16(m, 0);
    r.flags = get16(m, 2);
    if (!(r.flags & flag_qr))
        return bad("a query, not a response");
    r.rcode = static_cast<std::uint8_t>(r.flags & 0xF);
    r.truncated = (r.flags & flag_tc) != 0;
    if (get16(m, 4) != 1)
        return bad("a reply without exactly one question");
    std::size_t next = 0;
    if (!walk_name(m, header_size, next, false) || next + 4 > m.size())
        return bad("the reply's question is cut short");
    r.question_end = next + 4;
    r.answers = get16(m, 6);
    const std::size_t in_authority = std::size_t{r.answers} + get16(m, 8);
    const std::size_t records = in_authority + get16(m, 10);
    std::size_t pos = r.question_end;
    for (std::size_t i = 0; i < records; ++i) {
        rr_view rr;
        if (!read_rr(m, pos, rr, &r.ttl_offsets))
            return bad("record " + std::to_string(i + 1) + " is cut short, or its name reads a TTL");
        if (rr.rtype == type::opt)
            continue;
        r.ttl_offsets.push_back(rr.ttl_at);
        if (i >= in_authority)
            continue;
        const std::uint32_t raw = get32(m, rr.ttl_at);
        const std::uint32_t ttl = raw & 0x80000000u ? 0 : raw; // RFC 2181 section 8
        r.min_ttl = r.min_ttl ? std::min(*r.min_ttl, ttl) : ttl;
        if (i >= r.answers && rr.rtype == type::soa) {
            std::size_t p = rr.rdata_at, n = 0;
            if (!walk_name(m, p, n, true, nullptr, nullptr, nullptr, &r.ttl_offsets) ||
                !walk_name(m, n, p, true, nullptr, nullptr, nullptr, &r.ttl_offsets) || p + 20 > rr.rdata_at + rr.rdlen)
                return bad("an SOA record's data is cut short");
            r.soa_negative_ttl = std::min(ttl, get32(m, p + 16));
        }
    }
    return r;
}

bool same_question(view a, std::size_t a_end, view b, std::size_t b_end)
{
    if (a_end != b_end || a_end > a.size() || b_end > b.size())
        return false;
    for (std::size_t i = header_size; i < a_end; ++i)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

std::optional<bytes> encode_name(std::string_view s)
{
    bytes out;
    if (!s.empty() && s.back() == '.')
        s.remove_suffix(1);
    while (!s.empty()) {
        auto dot = s.find('.');
        auto label = s.substr(0, dot);
        if (label.empty() || label.size() > 63)
            return std::nullopt;
        out.push_back(static_cast<std::uint8_t>(label.size()));
        for (char c : label)
            out.push_back(lower(static_cast<std::uint8_t>(c)));
        s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
    }
    out.push_back(0);
    if (out.size() > 255)
        return std::nullopt;
    return out;
}

bytes make_reply(view msg, const query& q, std::uint8_t rc, bool authoritative, std::span<const record> answers,
                 std::span<const record> authority)
{
    bytes out;
    out.reserve(q.question_end + 64);
    append16(out, q.id);
    std::uint16_t flags = flag_qr | static_cast<std::uint16_t>(q.opcode() << 11) | flag_ra | (q.flags & flag_rd) | rc;
    if (authoritative)
        flags |= flag_aa;
    append16(out, flags);
    append16(out, 1);
    append16(out, static_cast<std::uint16_t>(answers.size()));
    append16(out, static_cast<std::uint16_t>(authority.size()));
    append16(out, q.edns ? 1 : 0);
    out.insert(out.end(), msg.begin() + header_size, msg.begin() + static_cast<std::ptrdiff_t>(q.question_end));
    for (auto& r : answers)
        append_record(out, r);
    for (auto& r : authority)
        append_record(out, r);
    if (q.edns) {
        out.push_back(0);
        append16(out, type::opt);
        append16(out, our_udp_size);
        append32(out, 0);
        append16(out, 0);
    }
    return out;
}

bytes truncated_reply(view msg, const query& q)
{
    bytes out = make_reply(msg, q, rcode::noerror, false, {}, {});
    out[2] |= static_cast<std::uint8_t>(flag_tc >> 8);
    return out;
}

bytes soa_rdata(const bytes& zone, std::uint32_t negative_ttl)
{
    bytes out = zone;
    static constexpr std::string_view hostmaster = "hostmaster";
    out.push_back(static_cast<std::uint8_t>(hostmaster.size()));
    out.insert(out.end(), hostmaster.begin(), hostmaster.end());
    out.insert(out.end(), zone.begin(), zone.end());
    append32(out, 1);     // serial
    append32(out, 3600);  // refresh
    append32(out, 600);   // retry
    append32(out, 86400); // expire
    append32(out, negative_ttl);
    return out;
}

} // namespace paddock::dns
