// SPDX-License-Identifier: MIT
// The dashboard's static files (GET / and everything outside /api and /metrics), from www/.
// Paths are segments of [A-Za-z0-9._@-], none starting with '.', so nothing climbs out of www/ or
// reaches dotfiles. Files are cached in memory and re-read when their size or mtime changes; each
// has a strong ETag (a hash of its bytes) for If-None-Match -> 304, `Cache-Control: no-cache`
// (always revalidate: one round trip, no body), a content type by extension, and for text over
// 1 KiB a gzip copy sent to clients that accept it. Every reply carries the dashboard's strict
// Content-Security-Policy.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace paddock::api {

struct request;
struct response;

class static_files {
public:
    explicit static_files(std::string root) : root_(std::move(root)) {}
    response serve(const request& req, std::string path);

    // The Content-Security-Policy of the dashboard (scripts and connections: this origin only).
    static const char* csp();

private:
    struct entry {
        std::int64_t mtime_ns = 0;
        std::uint64_t size = 0;
        std::shared_ptr<const std::string> body, gz;
        std::string etag;
    };
    std::string root_;
    std::map<std::string, entry> cache_;
};

// Whether a static path is safe to open under the root.
bool safe_static_path(const std::string& p);
// gzip of `in` (empty on failure).
std::string gzip(const std::string& in);

} // namespace paddock::api
