#pragma once
// `coap-gateway --demo`: the gateway on 127.0.0.1:5683 and [::1]:5683 in front of an in-process
// onep-sim seeded with a demo device, plus ready-to-paste coap-client commands.
#include "conf/config.hpp"

namespace gw::app {

// `config` supplies every setting but the upstream URL; its listen addresses are replaced by
// the demo's unless `keep_listen` (a config file was given).
int run_demo(conf::config config, bool keep_listen);

}  // namespace gw::app
