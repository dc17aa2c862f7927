// SPDX-License-Identifier: MIT
// Error values at module boundaries: result<T> carries either a value or a human-readable failure.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace paddock {

// A failure: a short snake_case code (stable, comparable; becomes the HTTP error code) and a
// sentence for people. Codes stay small, text stays rich (Boost.MySQL's diagnostics idea).
struct failure {
    std::string code;
    std::string message;
};

// Minimal result<T> (no std::expected in C++20). Cheap to move, never throws on access misuse
// in release builds because callers check ok() first.
template <class T>
class result {
public:
    // Default: a failure (co_spawn needs a default for the exception path).
    result() : v_(failure{"no_value", "no value"}) {}
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

inline failure fail(std::string code, std::string message) { return {std::move(code), std::move(message)}; }

} // namespace paddock
