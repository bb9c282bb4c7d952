#include "deadpeer/cli/last_resort.hpp"

#include <unistd.h>
#include <yaml-cpp/exceptions.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <new>
#include <string>

#include "deadpeer/error.hpp"
#include "deadpeer/scenario/scenario.hpp"
#include "deadpeer/text.hpp"

namespace deadpeer {
namespace {

const char* g_program = "deadpeer";

void internalError(const std::string& what) noexcept {
  std::fprintf(stderr,
               "%s: internal error: %s\n"
               "This is a bug in deadpeer; please report it with the command line and the files "
               "it read.\n",
               g_program, printable(what).c_str());
}

std::string describe(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

[[noreturn]] void onTerminate() noexcept {
  const std::exception_ptr error = std::current_exception();
  internalError(error ? "uncaught exception: " + describe(error)
                      : "std::terminate called without an exception");
  std::fflush(stderr);
  ::_exit(kExitInternalError);
}

}  // namespace

int runGuarded(const char* program, const std::function<int()>& body) noexcept {
  g_program = program;
  std::set_terminate(onTerminate);
  try {
    return body();
  } catch (const ScenarioError& e) {
    // Diagnostic::str() escapes what it echoes; one per line.
    for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.str().c_str());
    if (e.diagnostics().empty()) std::fprintf(stderr, "%s: invalid scenario\n", program);
    return kExitBadInput;
  } catch (const YAML::Exception& e) {
    std::fprintf(stderr, "%s: bad input: %s\n", program, printable(e.what()).c_str());
    return kExitBadInput;
  } catch (const std::filesystem::filesystem_error& e) {
    std::fprintf(stderr, "%s: bad path: %s\n", program, printable(e.what()).c_str());
    return kExitBadInput;
  } catch (const Error& e) {
    std::fprintf(stderr, "%s: %s\n", program, printable(e.what()).c_str());
    return kExitFailed;
  } catch (const std::bad_alloc&) {
    internalError("out of memory");
  } catch (const std::exception& e) {
    internalError(e.what());
  } catch (...) {
    internalError("an exception that is not a std::exception");
  }
  return kExitInternalError;
}

}  // namespace deadpeer
