#include "devtools/lambda_local/http_server.h"

#include <pthread.h>
#include <sys/socket.h>

#include <csignal>

#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace devtools {

std::optional<Request> read_request(tcp::socket& socket, boost::beast::flat_buffer& buffer,
                                    std::uint64_t body_limit) {
  boost::beast::error_code error;
  http::request_parser<http::string_body> parser;
  parser.body_limit(body_limit);
  http::read_header(socket, buffer, parser, error);
  if (error) return std::nullopt;
  if (parser.get()[http::field::expect] == "100-continue") {
    http::response<http::empty_body> go_on{http::status::continue_, 11};
    http::write(socket, go_on, error);
    if (error) return std::nullopt;
  }
  http::read(socket, buffer, parser, error);
  if (error) return std::nullopt;
  return parser.release();
}

Response make_response(http::status status, const Request& request, std::string body,
                       std::string_view content_type) {
  Response response{status, request.version()};
  response.set(http::field::content_type, content_type);
  response.keep_alive(request.keep_alive());
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

HttpServer::HttpServer(std::uint16_t port, ConnectionHandler handler, std::string host)
    : acceptor_(io_), handler_(std::move(handler)) {
  const tcp::endpoint endpoint(boost::asio::ip::make_address(host), port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(boost::asio::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() {
  stop();
}

void HttpServer::accept_loop() {
  while (true) {
    tcp::socket socket(io_);
    boost::system::error_code error;
    acceptor_.accept(socket, error);
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    if (error) continue;
    reap_finished_connections();
    ++connections_accepted_;
    socket.set_option(tcp::no_delay(true), error);
    auto connection = std::make_unique<Connection>(Connection{std::move(socket), {}, false});
    Connection* raw = connection.get();
    connections_.push_back(std::move(connection));
    raw->thread = std::thread([this, raw] {
      try {
        handler_(raw->socket);
      } catch (const std::exception&) {
        // A broken connection ends only that connection.
      }
      std::lock_guard done_lock(mutex_);
      raw->done = true;
    });
  }
}

void HttpServer::reap_finished_connections() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    // shutdown() wakes a thread blocked in accept() or read(); close() alone would not.
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    for (auto& connection : connections_) ::shutdown(connection->socket.native_handle(), SHUT_RDWR);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  std::list<std::unique_ptr<Connection>> connections;
  {
    std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& connection : connections) connection->thread.join();
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

namespace {

sigset_t stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  return signals;
}

}  // namespace

void block_stop_signals() {
  const sigset_t signals = stop_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

void wait_for_stop_signal() {
  const sigset_t signals = stop_signals();
  int received = 0;
  sigwait(&signals, &received);
}

}  // namespace devtools
