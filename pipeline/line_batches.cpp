#include "pipeline/line_batches.h"

#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/hashing.h"
#include "runtime/errors.h"

namespace pipeline {

namespace json = boost::json;

namespace {

bool is_json(std::string_view line) {
  // One parser a thread: reset keeps its buffers, so a line costs no allocation once warm.
  thread_local json::parser parser;
  parser.reset();
  boost::system::error_code error;
  parser.write(line.data(), line.size(), error);
  return !error;  // incomplete JSON and anything after it are errors too
}

runtime::InvalidInput line_too_long(std::uint64_t number, std::size_t limit) {
  return runtime::InvalidInput("line " + std::to_string(number) + " is longer than " +
                               std::to_string(limit) + " bytes");
}

}  // namespace

std::string BatchId::text() const {
  const std::string object = common::sha256_hex(bucket + '\n' + key + '\n' + version_id);
  return object.substr(0, 16) + ":" + std::to_string(first_line) + "-" + std::to_string(last_line);
}

LineBatcher::LineBatcher(BatchId object, BatchLimits limits, NonJsonLines non_json, Emit emit)
    : object_(std::move(object)), limits_(limits), non_json_(non_json), emit_(std::move(emit)) {
  batch_.id = object_;
}

void LineBatcher::feed(std::string_view text) {
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view piece = text.substr(0, newline);
    if (partial_.size() + piece.size() > limits_.max_line_bytes + 1) {  // + 1: a "\r" to drop
      throw line_too_long(line_number_ + 1, limits_.max_line_bytes);
    }
    if (newline == std::string_view::npos) {
      partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      take_line(piece);
    } else {
      partial_.append(piece);
      take_line(partial_);
      partial_.clear();
    }
    text.remove_prefix(newline + 1);
  }
}

void LineBatcher::finish() {
  if (!partial_.empty()) {
    take_line(partial_);
    partial_.clear();
  }
  if (batch_.lines > 0) hand_on();
}

void LineBatcher::take_line(std::string_view line) {
  ++line_number_;
  if (line.ends_with('\r')) line.remove_suffix(1);
  if (line.size() > limits_.max_line_bytes) {
    throw line_too_long(line_number_, limits_.max_line_bytes);
  }
  if (line.empty()) return;
  if (non_json_ == NonJsonLines::kSend || is_json(line)) return add(line);
  if (non_json_ == NonJsonLines::kDrop) {
    ++dropped_;
    return;
  }
  add(json::serialize(json::object{{"raw", line}}));
}

void LineBatcher::add(std::string_view line) {
  if (line.size() + 1 > limits_.max_bytes) {  // wrapped, a line may outgrow what it was
    throw runtime::InvalidInput("line " + std::to_string(line_number_) + " takes " +
                                std::to_string(line.size() + 1) + " bytes, more than a batch's " +
                                std::to_string(limits_.max_bytes));
  }
  if (batch_.lines > 0 && (batch_.lines + 1 > limits_.max_lines ||
                           batch_.body.size() + line.size() + 1 > limits_.max_bytes)) {
    hand_on();
  }
  if (batch_.lines == 0) batch_.id.first_line = line_number_;
  batch_.id.last_line = line_number_;
  batch_.body.append(line);
  batch_.body.push_back('\n');
  ++batch_.lines;
}

void LineBatcher::hand_on() {
  LineBatch full = std::move(batch_);
  batch_ = LineBatch{};
  batch_.id = object_;
  emit_(std::move(full));
}

}  // namespace pipeline
