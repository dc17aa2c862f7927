// SPDX-License-Identifier: MIT
// Unit: QMP framing fed in arbitrary splits, and line classification (recorded QEMU 7.2 lines).
#include <doctest/doctest.h>

#include <random>

#include "qmp/protocol.hpp"

using namespace paddock::qmp;

namespace {
const std::string transcript =
    R"({"QMP": {"version": {"qemu": {"micro": 2, "minor": 2, "major": 7}, "package": "Debian 1:7.2+dfsg-7+deb12u18+b3"}, "capabilities": ["oob"]}})"
    "\n"
    R"({"return": {}})"
    "\n"
    R"({"return": {"status": "running", "singlestep": false, "running": true}, "id": "paddock-1"})"
    "\r\n"
    R"({"timestamp": {"seconds": 1795920345, "microseconds": 985225}, "event": "STOP"})"
    "\n"
    R"({"timestamp": {"seconds": 1795920346, "microseconds": 5}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}})"
    "\n"
    R"({"error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}, "id": "paddock-2"})"
    "\n";
} // namespace

TEST_CASE("a transcript split at every possible point yields the same six lines")
{
    for (std::size_t cut = 0; cut <= transcript.size(); ++cut) {
        line_splitter s;
        s.feed(std::string_view(transcript).substr(0, cut));
        std::vector<std::string> got;
        while (auto l = s.next())
            got.push_back(*l);
        s.feed(std::string_view(transcript).substr(cut));
        while (auto l = s.next())
            got.push_back(*l);
        REQUIRE(got.size() == 6);
        CHECK(got[2].back() == '}'); // the \r is gone
    }
}

TEST_CASE("random chunking, one byte at a time included")
{
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        line_splitter s;
        std::size_t pos = 0, n = 0;
        while (pos < transcript.size()) {
            std::size_t len = std::min<std::size_t>(1 + rng() % 17, transcript.size() - pos);
            s.feed(std::string_view(transcript).substr(pos, len));
            pos += len;
            while (s.next())
                ++n;
        }
        CHECK(n == 6);
    }
}

TEST_CASE("an endless line is an overflow, not unbounded memory")
{
    line_splitter s(1024);
    s.feed(std::string(1000, 'x'));
    CHECK_FALSE(s.overflow());
    s.feed(std::string(100, 'x'));
    CHECK(s.overflow());
    CHECK_FALSE(s.next());
}

TEST_CASE("lines are classified by their keys")
{
    line_splitter s;
    s.feed(transcript);
    std::vector<message> m;
    while (auto l = s.next())
        m.push_back(classify(*l));
    CHECK(m[0].k == kind::greeting);
    CHECK(m[1].k == kind::reply);
    CHECK(m[1].id.empty());
    CHECK(m[2].k == kind::reply);
    CHECK(m[2].id == "paddock-1");
    CHECK(m[2].ret.as_object().at("status") == "running");
    CHECK(m[3].k == kind::event);
    CHECK(m[3].event == "STOP");
    CHECK(m[4].event == "SHUTDOWN");
    CHECK(m[4].data.at("reason") == "guest-shutdown");
    CHECK(m[5].k == kind::error);
    CHECK(m[5].error_class == "CommandNotFound");
    CHECK(m[5].id == "paddock-2");
}

TEST_CASE("malformed lines are invalid, never a crash")
{
    for (const char* bad : {"", "{", "[1,2]", "42", "{\"event\": 5}", "{\"unknown\": 1}", "\xff\xfe"})
        CHECK(classify(bad).k == kind::invalid);
    CHECK(classify(R"({"return": 1, "id": 7})").id == "7"); // numeric ids kept as text
}

TEST_CASE("commands serialize as one line with id and optional arguments")
{
    CHECK(command_line("query-status", {}, "paddock-3") == "{\"execute\":\"query-status\",\"id\":\"paddock-3\"}\n");
    boost::json::object args{{"value", 1}};
    auto l = command_line("balloon", args, "x");
    CHECK(l.find("\"arguments\":{\"value\":1}") != std::string::npos);
    CHECK(l.back() == '\n');
}
