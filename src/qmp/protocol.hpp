// SPDX-License-Identifier: MIT
// CORE: QMP wire protocol (qmp-spec): newline-delimited JSON. A splitter turns arbitrary chunks
// of bytes into lines (bounded: a line over the cap is an error, like libvirt's 10 MB limit), and
// classify() sorts a line into greeting, success reply, error reply or asynchronous event by its
// keys alone. Never throws.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace paddock::qmp {

class line_splitter {
public:
    explicit line_splitter(std::size_t max_line = 10 * 1024 * 1024) : max_(max_line) {}
    void feed(std::string_view bytes) { buf_.append(bytes); }
    // The next complete line without its '\n' (and '\r'), if any.
    std::optional<std::string> next();
    // True once buffered bytes without a newline exceed the cap: the peer is broken.
    bool overflow() const { return buf_.size() - pos_ > max_; }

private:
    std::string buf_;
    std::size_t pos_ = 0;
    std::size_t max_;
};

enum class kind { greeting, reply, error, event, invalid };

struct message {
    kind k = kind::invalid;
    std::string id;                 // replies: the id we sent (string form), empty if none
    boost::json::value ret;         // reply: the "return" member
    std::string error_class, error_desc;
    std::string event;              // event name
    boost::json::object data;       // event data
    std::string problem;            // invalid: why
};

message classify(std::string_view line);

// Serializes a command line: {"execute": cmd, "arguments": args?, "id": id}\n
std::string command_line(std::string_view cmd, const boost::json::object& args, std::string_view id);

} // namespace paddock::qmp
