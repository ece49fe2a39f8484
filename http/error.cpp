#include "http/error.hpp"

#include <string>

namespace gw::http {
namespace {

class category final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "gw.http"; }

  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::bad_percent_escape:
        return "bad percent escape";
      case error::bad_content_range:
        return "bad Content-Range";
      case error::bad_date:
        return "bad HTTP-date";
      case error::bad_number:
        return "bad decimal number";
    }
    return "unknown gw.http error";
  }
};

}  // namespace

const boost::system::error_category& error_category() {
  static const category instance;
  return instance;
}

boost::system::error_code make_error_code(error e) {
  return {static_cast<int>(e), error_category()};
}

}  // namespace gw::http
