// SPDX-License-Identifier: MIT
// CORE: admission under overload.
#include "dhcp/admission.hpp"

namespace paddock::dhcp {

bool admit(const admission_config& c, msg_type type, std::int64_t received_us, std::int64_t now_us)
{
    if (received_us <= 0)
        return true;
    const std::int64_t waited = now_us - received_us;
    switch (type) {
    case msg_type::discover: return waited <= c.discover_max_wait_us;
    case msg_type::request: return waited <= c.request_max_wait_us;
    default: return true;
    }
}

} // namespace paddock::dhcp
