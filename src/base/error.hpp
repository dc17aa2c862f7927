// SPDX-License-Identifier: MIT
// Error values at module boundaries: result<T> carries either a value or a failure, which is a
// code from one enum (comparable, switchable, the HTTP mapping's input) plus a sentence for people.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace paddock {

// Every failure the daemon reports. The wire name (to_string) is the snake_case of the value and
// is what API clients see as error.code; the HTTP status is chosen in one place (api/errors).
enum class errc {
    no_value,
    // Bad input from a client.
    invalid_json,
    invalid_field,
    unsupported_field,
    invalid_ip,
    invalid_mac,
    invalid_config,
    invalid_image,
    // Resource state.
    not_found,
    forbidden,
    conflict,
    invalid_state,
    ip_in_use,
    pool_exhausted,
    vm_gone,
    // DHCP codec.
    truncated,
    bad_op,
    bad_hlen,
    bad_cookie,
    bad_option,
    // DNS codec.
    dns_malformed,
    // QMP.
    qmp_protocol,
    qmp_error,
    qmp_timeout,
    qmp_disconnected,
    // The host and its tools.
    store_failed,
    spawn_failed,
    tool_failed,
    tap_failed,
    netlink_failed,
    netns_failed,
    nft_failed,
    sysctl_failed,
    link_conflict,
    fabric_down,
    dhcp_socket,
    setns,
    state_dir,
    token,
    tls,
    timeout,
    no_space,
    shutting_down,
};
// How many codes there are (every value from no_value up to shutting_down): tests walk them all.
inline constexpr int errc_count = static_cast<int>(errc::shutting_down) + 1;

// The wire name, e.g. "invalid_field".
const char* to_string(errc c);

// A failure: the code, and a sentence for people. Codes stay small, text stays rich
// (Boost.MySQL's diagnostics idea).
struct failure {
    errc code = errc::no_value;
    std::string message;
};

// Minimal result<T> (no std::expected in C++20). Callers check ok() before value().
template <class T>
class result {
public:
    // Default: a failure (co_spawn needs a default for the exception path).
    result() : v_(failure{errc::no_value, "no value"}) {}
    result(T v) : v_(std::move(v)) {}
    result(failure f) : v_(std::move(f)) {}
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const failure& error() const { return std::get<1>(v_); }

private:
    std::variant<T, failure> v_;
};

struct ok_t {};
using status = result<ok_t>;
inline status ok() { return ok_t{}; }

inline failure fail(errc code, std::string message) { return {code, std::move(message)}; }

} // namespace paddock
