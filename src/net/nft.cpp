// SPDX-License-Identifier: MIT
// libnftables context wrapper.
#include "net/nft.hpp"

#include <new>

#include <nftables/libnftables.h>

namespace paddock::net {

nft::nft() : ctx_(nft_ctx_new(NFT_CTX_DEFAULT))
{
    if (!ctx_)
        throw std::bad_alloc();
    nft_ctx_output_set_flags(ctx_, NFT_CTX_OUTPUT_JSON);
    nft_ctx_buffer_output(ctx_);
    nft_ctx_buffer_error(ctx_);
}

nft::~nft() { nft_ctx_free(ctx_); }

result<std::string> nft::run(const std::string& command)
{
    // libnftables 1.0.6 detects JSON input by the leading '{'; one buffer is one transaction.
    int rc = nft_run_cmd_from_buffer(ctx_, command.c_str());
    // Each get_*_buffer call hands over the buffer and resets it: read each exactly once.
    const char* o = nft_ctx_get_output_buffer(ctx_);
    const char* e = nft_ctx_get_error_buffer(ctx_);
    std::string out = o ? o : "";
    std::string err = e ? e : "";
    if (rc != 0) {
        while (!err.empty() && (err.back() == '\n' || err.back() == ' '))
            err.pop_back();
        return fail(errc::nft_failed, err.empty() ? "nftables command failed" : err);
    }
    return out;
}

} // namespace paddock::net
