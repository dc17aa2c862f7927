// SPDX-License-Identifier: MIT
// Figures a module reports about itself, typed: families of samples with labels. Modules fill a
// metric_list; the API's one writer (api/prom) turns it into Prometheus text. Counters are totals
// since start; gauges are values now.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace paddock {

struct metric_sample {
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
};

struct metric_family {
    std::string name, type, help; // type: counter or gauge
    std::vector<metric_sample> samples;

    metric_family& add(double v) { return add({}, v); }
    metric_family& add(std::vector<std::pair<std::string, std::string>> labels, double v)
    {
        samples.push_back({std::move(labels), v});
        return *this;
    }
};

class metric_list {
public:
    // Starts a family; add samples to what it returns.
    metric_family& family(std::string name, std::string type, std::string help)
    {
        families_.push_back({std::move(name), std::move(type), std::move(help), {}});
        return families_.back();
    }
    const std::vector<metric_family>& families() const { return families_; }

private:
    std::vector<metric_family> families_;
};

} // namespace paddock
