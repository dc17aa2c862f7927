// SPDX-License-Identifier: MIT
// libnftables context kept open for the daemon's lifetime (closing it costs ~8 ms per commit,
// LAB-NOTES §6). Calls are short blocking netlink round trips and run inline on the caller.
#pragma once

#include <string>

#include "base/error.hpp"

struct nft_ctx;

namespace paddock::net {

class nft {
public:
    nft();
    ~nft();
    nft(const nft&) = delete;
    nft& operator=(const nft&) = delete;

    // Runs a JSON document or a text command; returns the JSON output (may be empty) or the
    // error buffer as the failure message (code "nft_failed").
    result<std::string> run(const std::string& command);

private:
    nft_ctx* ctx_;
};

} // namespace paddock::net
