// SPDX-License-Identifier: MIT
// CORE: Prometheus text exposition (format 0.0.4), written family by family: each family's
// # HELP and # TYPE once, then its samples. Label values are escaped (\\, \", \n).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/metrics.hpp"

namespace paddock::api {

using label = std::pair<std::string_view, std::string_view>;

class prom {
public:
    // Starts a family; `type` is counter, gauge or histogram.
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, std::initializer_list<label> labels, double value);
    void sample(std::string_view name, std::span<const label> labels, double value);
    void sample(std::string_view name, double value) { sample(name, std::span<const label>{}, value); }
    // Every family of a module's report, in order.
    void write(const metric_list& m);
    const std::string& text() const { return out_; }

private:
    std::string out_;
};

// Upper bounds (seconds) of the HTTP latency histogram's buckets.
inline constexpr double latency_bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};

} // namespace paddock::api
