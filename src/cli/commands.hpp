// SPDX-License-Identifier: MIT
// The `paddock` command's pure core: its verbs and their options (with the help text), the
// command line parsed against them, the API's JSON turned into the tables and lines people read,
// and the progress line of an upload. No sockets, no terminal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "base/error.hpp"

namespace paddock::cli {

// Exit codes scripts can rely on.
enum exit_code : int {
    exit_ok = 0,
    exit_api = 1,         // the API refused (its message is printed)
    exit_usage = 2,       // a bad command line
    exit_unreachable = 3, // no connection, TLS refused, a timeout
    exit_not_found = 4,   // 404: no such VM or image
    exit_conflict = 5,    // 409: the VM's state does not allow it, or a name is taken
};
int exit_for_status(int http_status);

struct option_def {
    std::string_view name;  // without the dashes
    std::string_view value; // placeholder ("N", "FILE"); empty: a flag without a value
    std::string_view help;
    bool repeat = false; // may be given more than once (values kept in order)
};

struct command_def {
    std::string_view path;  // "vm ls"
    std::string_view args;  // "NAME [NAME...]"
    std::string_view help;  // one line
    std::vector<option_def> options;
    std::size_t min_args = 0, max_args = 0; // positional arguments after the path
};

const std::vector<command_def>& commands();
// Options every command takes (--url, --fingerprint, --cacert, --config, --json, --timeout, --help).
const std::vector<option_def>& global_options();

struct invocation {
    const command_def* cmd = nullptr; // null with help: the general help
    std::vector<std::string> args;
    std::map<std::string, std::vector<std::string>> opts; // flags hold "1"
    bool help = false;

    bool has(const std::string& o) const { return opts.contains(o); }
    std::string get(const std::string& o, std::string fallback = {}) const
    {
        auto it = opts.find(o);
        return it == opts.end() || it->second.empty() ? fallback : it->second.back();
    }
};

// Parses argv (without the program name). Errors say what was wrong and name the command.
result<invocation> parse(const std::vector<std::string>& argv);

std::string general_help();
std::string command_help(const command_def& c);

// Where the daemon is: "http(s)://HOST[:PORT][/]", HOST a name, IPv4 or [IPv6].
struct api_url {
    bool tls = false;
    std::string host; // without brackets
    std::string port;
};
result<api_url> parse_url(std::string_view url);

// Human output.
std::string human_bytes(double bytes);            // "1.5 GiB"
std::string human_duration(double seconds);       // "1m05s"
std::string vm_table(const boost::json::value& vms);      // GET /vms
std::string image_table(const boost::json::value& images); // GET /images
std::string lease_table(const boost::json::value& leases); // GET /leases
std::string key_values(const boost::json::value& v);       // an object as "key: value" lines
std::string event_line(const boost::json::value& e);       // one event
// "[#####.....]  40%  120 MiB / 300 MiB  85.2 MiB/s  ETA 2s" for `width` columns.
std::string progress_line(std::uint64_t done, std::uint64_t total, double seconds, std::size_t width);
// The API's error message from a reply body, else the body itself (trimmed).
std::string api_message(std::string_view body);

// A whole number (>= 0) given to option --opt; errors name the option.
result<long> whole_number(const std::string& opt, const std::string& text);

// "tcp/8080:80", "udp/53@203.0.113.1": the PUT's protocol and host port, and its body.
struct forward_arg {
    std::string proto, host_port;
    boost::json::object body;
};
result<forward_arg> parse_forward_arg(std::string_view text);
std::string forward_table(const boost::json::value& v); // GET /vms/{name}/forwards

// The JSON body of `vm create` from its options; errors name the option.
result<boost::json::object> create_body(const invocation& inv);

} // namespace paddock::cli
