// SPDX-License-Identifier: MIT
// The dashboard's static files.
#include "api/static_files.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <sys/stat.h>
#include <zlib.h>

#include "api/api.hpp"

namespace paddock::api {

namespace {

std::string content_type_for(const std::string& path)
{
    auto dot = path.rfind('.');
    std::string ext = dot == std::string::npos ? "" : path.substr(dot + 1);
    if (ext == "html") return "text/html; charset=utf-8";
    if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
    if (ext == "css") return "text/css; charset=utf-8";
    if (ext == "json" || ext == "map") return "application/json";
    if (ext == "svg") return "image/svg+xml";
    if (ext == "png") return "image/png";
    if (ext == "ico") return "image/x-icon";
    if (ext == "txt") return "text/plain; charset=utf-8";
    if (ext == "webmanifest") return "application/manifest+json";
    return "application/octet-stream";
}

bool compressible(const std::string& type)
{
    return type.starts_with("text/") || type.starts_with("application/json") || type.starts_with("image/svg") ||
           type.starts_with("application/manifest");
}

std::string etag_of(const std::string& bytes)
{
    std::uint64_t h = 1469598103934665603ull; // FNV-1a 64
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ull;
    }
    char buf[40];
    std::snprintf(buf, sizeof buf, "\"%016llx-%zx\"", static_cast<unsigned long long>(h), bytes.size());
    return buf;
}

bool accepts_gzip(const std::string& accept_encoding)
{
    // "gzip" listed, and not refused with q=0 (good enough for browsers and curl).
    auto at = accept_encoding.find("gzip");
    if (at == std::string::npos)
        return false;
    auto rest = accept_encoding.substr(at, accept_encoding.find(',', at) - at);
    return rest.find("q=0") == std::string::npos || rest.find("q=0.") != std::string::npos;
}

} // namespace

const char* static_files::csp()
{
    // xterm.js adds <style> elements for its themes: styles may be inline, scripts never.
    return "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
           "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
           "frame-ancestors 'none'";
}

bool safe_static_path(const std::string& p)
{
    if (p.empty() || p.front() != '/' || p.size() > 256)
        return false;
    bool seg_start = true;
    for (std::size_t i = 1; i < p.size(); ++i) {
        char c = p[i];
        if (c == '/') {
            if (seg_start)
                return false;
            seg_start = true;
            continue;
        }
        if (seg_start && c == '.')
            return false;
        seg_start = false;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '@'))
            return false;
    }
    return true;
}

std::string gzip(const std::string& in)
{
    z_stream z{};
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return {};
    std::string out(deflateBound(&z, in.size()), '\0');
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    int rc = deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return rc == Z_STREAM_END ? out : std::string();
}

response static_files::serve(const request& req, std::string path)
{
    if (req.method != "GET" && req.method != "HEAD") {
        auto r = error(405, "method_not_allowed", req.method + " is not allowed on " + path + "; use GET");
        r.headers.emplace_back("Allow", "GET, HEAD");
        return r;
    }
    if (path == "/")
        path = "/index.html";
    struct stat st{};
    const std::string file = root_ + path;
    if (!safe_static_path(path) || ::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        cache_.erase(path);
        return error(404, "not_found", "no such file: " + path);
    }
    const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    auto& e = cache_[path];
    if (!e.body || e.mtime_ns != mtime || e.size != static_cast<std::uint64_t>(st.st_size)) {
        std::ifstream f(file, std::ios::binary);
        std::ostringstream ss;
        ss << f.rdbuf();
        std::string bytes = std::move(ss).str();
        e.mtime_ns = mtime;
        e.size = static_cast<std::uint64_t>(st.st_size);
        e.etag = etag_of(bytes);
        e.gz.reset();
        const std::string type = content_type_for(path);
        if (compressible(type) && bytes.size() > 1024)
            if (auto z = gzip(bytes); !z.empty() && z.size() < bytes.size())
                e.gz = std::make_shared<const std::string>(std::move(z));
        e.body = std::make_shared<const std::string>(std::move(bytes));
    }
    response r;
    r.content_type = content_type_for(path);
    r.headers.emplace_back("Cache-Control", "no-cache");
    r.headers.emplace_back("ETag", e.etag);
    r.headers.emplace_back("Content-Security-Policy", csp());
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    if (e.gz)
        r.headers.emplace_back("Vary", "Accept-Encoding");
    if (!req.if_none_match.empty() && req.if_none_match.find(e.etag) != std::string::npos) {
        r.status = 304;
        return r;
    }
    if (e.gz && accepts_gzip(req.accept_encoding)) {
        r.headers.emplace_back("Content-Encoding", "gzip");
        r.shared_body = e.gz;
    }
    else
        r.shared_body = e.body;
    return r;
}

} // namespace paddock::api
