#pragma once
// Pagination, the one place, for every service (S3 listings, DynamoDB queries): a request for a
// page given the previous page's marker, a parser, and the marker of the next page (none at the
// end; a page naming the marker it was asked with ends it too, or it would be asked for forever).
// paginate() calls on_page on the caller's thread; paginate_async() on the engine's, chaining each
// request to the previous answer.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/aws_client.h"

namespace common {

template <typename Page, typename Marker>
struct Pager {
  std::function<AwsRequest(const Marker&)> request;
  std::function<Page(const std::string&)> parse;
  std::function<std::optional<Marker>(const Page&)> next;
};

template <typename Page, typename Marker>
void paginate(AwsClient& client, const Pager<Page, Marker>& pager, Marker marker,
              const std::function<bool(Page&)>& on_page) {
  while (true) {
    Page page = pager.parse(client.send(pager.request(marker)).body);
    const std::optional<Marker> next = pager.next(page);
    if (!on_page(page) || !next || *next == marker) return;
    marker = *next;
  }
}

template <typename Page, typename Marker>
void paginate_async(AwsClient& client, std::shared_ptr<const Pager<Page, Marker>> pager,
                    const Marker& marker, std::shared_ptr<std::function<bool(Page&)>> on_page,
                    std::shared_ptr<std::function<void(std::exception_ptr)>> done) {
  client.send_async(pager->request(marker),
                    [&client, pager, marker, on_page, done](AwsOutcome&& outcome) {
                      if (!outcome.ok()) return (*done)(outcome.error);
                      Page page;
                      try {
                        page = pager->parse(outcome.response.body);
                      } catch (...) {
                        return (*done)(std::current_exception());
                      }
                      const std::optional<Marker> next = pager->next(page);
                      if (!(*on_page)(page) || !next || *next == marker) return (*done)(nullptr);
                      paginate_async(client, pager, *next, on_page, done);
                    });
}

}  // namespace common
