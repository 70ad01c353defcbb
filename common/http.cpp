#include "common/http.h"

#include <curl/curl.h>
#include <strings.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/settings.h"

namespace common {

namespace {

bool readable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), R_OK) == 0;
}

// The body of a request held in memory, read like any other source.
class StringSource : public BodySource {
 public:
  explicit StringSource(const std::string* text) : text_(text) {}
  std::size_t read(char* buffer, std::size_t size) override {
    const std::size_t count = std::min(size, text_->size() - offset_);
    std::memcpy(buffer, text_->data() + offset_, count);
    offset_ += count;
    return count;
  }
  bool rewind() override {
    offset_ = 0;
    return true;
  }
  std::uint64_t size() const override { return text_->size(); }

 private:
  const std::string* text_;
  std::size_t offset_ = 0;
};

struct Transfer {
  HttpRequest request;
  HttpEngine::Completion done;
  HttpResponse response;
  std::unique_ptr<StringSource> string_source;
  BodySource* source = nullptr;
  curl_slist* headers = nullptr;
  CURL* easy = nullptr;
};

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const std::string_view chunk(data, size * count);
  if (transfer->request.on_body) {
    // Only a successful answer's body is streamed; an error document is kept for parsing.
    long status = 0;
    curl_easy_getinfo(transfer->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) return transfer->request.on_body(chunk) ? chunk.size() : 0;
  }
  transfer->response.body.append(chunk);
  return chunk.size();
}

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) {
    transfer->response.headers.clear();  // an interim response's headers are not the answer's
    return line.size();
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
    value.remove_suffix(1);
  }
  transfer->response.headers.emplace_back(std::move(name), std::string(value));
  return line.size();
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  return static_cast<Transfer*>(user)->source->read(buffer, size * count);
}

int on_seek(void* user, curl_off_t offset, int origin) {
  auto* transfer = static_cast<Transfer*>(user);
  if (offset == 0 && origin == SEEK_SET && transfer->source->rewind()) return CURL_SEEKFUNC_OK;
  return CURL_SEEKFUNC_CANTSEEK;
}

}  // namespace

std::string HttpResponse::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

HttpOptions HttpOptions::from_environment() {
  HttpOptions options;
  options.max_connections_per_host =
      static_cast<long>(lenient_number("HTTP_MAX_CONNECTIONS_PER_HOST", 1)
                            .value_or(options.max_connections_per_host));
  options.connect_timeout_ms = static_cast<long>(
      lenient_number("HTTP_CONNECT_TIMEOUT_MS", 1).value_or(options.connect_timeout_ms));
  options.stall_timeout_s = static_cast<long>(
      lenient_number("HTTP_STALL_TIMEOUT_S", 1).value_or(options.stall_timeout_s));
  options.ca_bundle = ca_bundle_path();
  return options;
}

std::string ca_bundle_path() {
  for (const char* name : {"AWS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  static constexpr const char* kCandidates[] = {
      "/etc/pki/tls/certs/ca-bundle.crt",                   // Amazon Linux 2023, Fedora, RHEL
      "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine
      "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // RHEL's extracted bundle
      "/etc/ssl/ca-bundle.pem",                             // openSUSE
      "/etc/ssl/cert.pem"};                                 // macOS, BSDs
  for (const char* candidate : kCandidates) {
    if (readable(candidate)) return candidate;
  }
  return {};
}

struct HttpEngine::Impl {
  explicit Impl(const HttpOptions& engine_options) : options(engine_options) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, options.max_connections_per_host);
    // Keep every connection we may open, or curl closes idle ones we would reuse.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, options.max_connections_per_host * 4);
    thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
    }
    curl_multi_wakeup(multi);
    thread.join();
    for (CURL* easy : idle_handles) curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }

  void enqueue(std::unique_ptr<Transfer> transfer) {
    {
      std::lock_guard lock(mutex);
      queued.push_back(std::move(transfer));
    }
    curl_multi_wakeup(multi);
  }

  void schedule(std::chrono::milliseconds delay, std::function<void()> task) {
    {
      std::lock_guard lock(mutex);
      timers.emplace(std::chrono::steady_clock::now() + delay, std::move(task));
    }
    curl_multi_wakeup(multi);
  }

  CURL* take_handle() {
    if (idle_handles.empty()) return curl_easy_init();
    CURL* easy = idle_handles.back();
    idle_handles.pop_back();
    curl_easy_reset(easy);
    return easy;
  }

  void start(std::unique_ptr<Transfer> owned) {
    Transfer* transfer = owned.get();
    CURL* easy = take_handle();
    transfer->easy = easy;
    HttpRequest& request = transfer->request;
    curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
    // S3 keys may hold "./", "../" and "//": the path goes out exactly as it was signed.
    curl_easy_setopt(easy, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, transfer);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, options.connect_timeout_ms);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, options.stall_timeout_s);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options.ca_bundle.empty())
      curl_easy_setopt(easy, CURLOPT_CAINFO, options.ca_bundle.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &on_write);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, transfer);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, transfer);

    if (request.body_source) {
      transfer->source = request.body_source.get();
    } else if (!request.body.empty() || request.method == "PUT" || request.method == "POST") {
      transfer->string_source = std::make_unique<StringSource>(&request.body);
      transfer->source = transfer->string_source.get();
    }
    if (transfer->source != nullptr) {
      curl_easy_setopt(easy, CURLOPT_READFUNCTION, &on_read);
      curl_easy_setopt(easy, CURLOPT_READDATA, transfer);
      curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, &on_seek);
      curl_easy_setopt(easy, CURLOPT_SEEKDATA, transfer);
      const auto size = static_cast<curl_off_t>(transfer->source->size());
      if (request.method == "POST") {
        curl_easy_setopt(easy, CURLOPT_POST, 1L);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, size);
      } else {
        curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, size);
        if (request.method != "PUT")
          curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
      }
    } else if (request.method == "HEAD") {
      curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    } else if (request.method != "GET") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }

    bool has_content_type = false;
    for (const auto& [name, value] : request.headers) {
      const std::string line = name + ": " + value;
      transfer->headers = curl_slist_append(transfer->headers, line.c_str());
      if (strcasecmp(name.c_str(), "content-type") == 0) has_content_type = true;
    }
    // Our signatures cover the headers we set; curl must not add an Expect pause or a form type.
    transfer->headers = curl_slist_append(transfer->headers, "Expect:");
    if (!has_content_type)
      transfer->headers = curl_slist_append(transfer->headers, "Content-Type:");
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, transfer->headers);

    active.emplace(transfer, std::move(owned));
    curl_multi_add_handle(multi, easy);
  }

  void finish(Transfer* transfer, CURLcode code) {
    auto owned = std::move(active.at(transfer));
    active.erase(transfer);
    CURL* easy = transfer->easy;
    long connects = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
    connections_opened += static_cast<std::uint64_t>(connects);
    ++requests;
    if (code == CURLE_OK) {
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &transfer->response.status);
    } else {
      transfer->response.transport_code = code;
      transfer->response.transport_error = curl_easy_strerror(code);
      transfer->response.untrusted_peer =
          code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE ||
          code == CURLE_SSL_CERTPROBLEM || code == CURLE_SSL_ISSUER_ERROR ||
          code == CURLE_SSL_PINNEDPUBKEYNOTMATCH;
    }
    curl_multi_remove_handle(multi, easy);
    curl_slist_free_all(transfer->headers);
    transfer->headers = nullptr;
    idle_handles.push_back(easy);
    owned->done(std::move(owned->response));
  }

  void loop() {
    while (true) {
      std::deque<std::unique_ptr<Transfer>> starting;
      std::vector<std::function<void()>> due;
      long wait_ms = 1000;
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
        starting.swap(queued);
        const auto now = std::chrono::steady_clock::now();
        while (!timers.empty() && timers.begin()->first <= now) {
          due.push_back(std::move(timers.begin()->second));
          timers.erase(timers.begin());
        }
        if (!timers.empty()) {
          const auto until =
              std::chrono::duration_cast<std::chrono::milliseconds>(timers.begin()->first - now);
          wait_ms = std::min<long>(wait_ms, std::max<long>(1, until.count()));
        }
      }
      for (auto& task : due) task();
      for (auto& transfer : starting) start(std::move(transfer));
      int running = 0;
      curl_multi_perform(multi, &running);
      int left = 0;
      while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
        if (message->msg != CURLMSG_DONE) continue;
        Transfer* transfer = nullptr;
        curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, &transfer);
        finish(transfer, message->data.result);
      }
      {
        std::lock_guard lock(mutex);
        if (!queued.empty() || stopping) continue;
      }
      curl_multi_poll(multi, nullptr, 0, static_cast<int>(wait_ms), nullptr);
    }
    // Stopping: whatever is still in flight is reported as cancelled.
    while (!active.empty()) finish(active.begin()->first, CURLE_ABORTED_BY_CALLBACK);
  }

  HttpOptions options;
  CURLM* multi = nullptr;
  std::thread thread;
  std::mutex mutex;
  bool stopping = false;
  std::deque<std::unique_ptr<Transfer>> queued;
  std::multimap<std::chrono::steady_clock::time_point, std::function<void()>> timers;
  std::map<Transfer*, std::unique_ptr<Transfer>> active;  // engine thread only
  std::vector<CURL*> idle_handles;                        // engine thread only
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> connections_opened{0};
};

HttpEngine::HttpEngine(HttpOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

HttpEngine::~HttpEngine() = default;

HttpEngine& HttpEngine::shared() {
  static HttpEngine engine;
  return engine;
}

void HttpEngine::submit(HttpRequest request, Completion done) {
  auto transfer = std::make_unique<Transfer>();
  transfer->request = std::move(request);
  transfer->done = std::move(done);
  impl_->enqueue(std::move(transfer));
}

void HttpEngine::run_after(std::chrono::milliseconds delay, std::function<void()> task) {
  impl_->schedule(delay, std::move(task));
}

HttpResponse HttpEngine::perform(HttpRequest request) {
  std::promise<HttpResponse> promise;
  auto future = promise.get_future();
  submit(std::move(request),
         [&promise](HttpResponse&& response) { promise.set_value(std::move(response)); });
  return future.get();
}

HttpEngine::Stats HttpEngine::stats() const {
  return Stats{impl_->requests.load(), impl_->connections_opened.load()};
}

}  // namespace common
