#include "ratio_reporter.hpp"

#include <cstdio>
#include <numeric>
#include <ostream>

namespace deadpeer::bench {
namespace {

std::vector<RatioSpec>& registry() {
  static std::vector<RatioSpec> specs;  // built before main(), read after the run
  return specs;
}

double secondsPer(benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kSecond:
      return 1;
    case benchmark::kMillisecond:
      return 1e-3;
    case benchmark::kMicrosecond:
      return 1e-6;
    case benchmark::kNanosecond:
      return 1e-9;
  }
  return 1e-9;
}

// The name a benchmark was registered under, without the suffixes that its
// options add (/real_time, /min_time:..., /iterations:...).
std::string registeredName(const benchmark::BenchmarkReporter::Run& run) {
  if (run.run_name.args.empty()) return run.run_name.function_name;
  return run.run_name.function_name + "/" + run.run_name.args;
}

// Three significant digits, without switching to exponents: 1.45, 23.1, 123.
std::string milliseconds(double seconds) {
  const double ms = seconds * 1e3;
  char text[32];
  std::snprintf(text, sizeof text, ms >= 100 ? "%.0f ms" : ms >= 10 ? "%.1f ms" : "%.2f ms", ms);
  return text;
}

// Whole numbers when large (bytes per hour: 380194), else four significant
// digits.
std::string counterValue(double value) {
  char text[32];
  std::snprintf(text, sizeof text, value >= 1e4 || value <= -1e4 ? "%.0f" : "%.4g", value);
  return text;
}

}  // namespace

bool compareBenchmarks(RatioSpec spec) {
  registry().push_back(std::move(spec));
  return true;
}

RatioReporter::RatioReporter() : display_(benchmark::CreateDefaultDisplayReporter()) {}

bool RatioReporter::ReportContext(const Context& context) {
  return display_->ReportContext(context);
}

void RatioReporter::ReportRuns(const std::vector<Run>& reports) {
  display_->ReportRuns(reports);
  for (const Run& run : reports) {
    Measured& m = measured_[registeredName(run)];
    if (run.error_occurred) {
      m.error = run.error_message;
      continue;
    }
    const double seconds = run.GetAdjustedRealTime() * secondsPer(run.time_unit);
    if (run.run_type == Run::RT_Iteration) {
      m.seconds.push_back(seconds);
      for (const auto& [name, counter] : run.counters) m.counters[name].push_back(counter.value);
    } else if (run.aggregate_name == "median") {
      m.median = seconds;
      for (const auto& [name, counter] : run.counters) m.median_counters[name] = counter.value;
    }
  }
}

void RatioReporter::Finalize() { display_->Finalize(); }

void RatioReporter::printRatios() {
  // JSON and CSV on stdout must stay parseable.
  const bool console = dynamic_cast<benchmark::ConsoleReporter*>(display_.get()) != nullptr;
  std::ostream& out = console ? display_->GetOutputStream() : display_->GetErrorStream();

  // "" when the side has a time (in `seconds`), else why not.
  auto timeOf = [&](const RatioSide& side, double& seconds, bool& median) -> std::string {
    const auto it = measured_.find(side.benchmark);
    if (it == measured_.end()) return side.caption + " did not run";
    const Measured& m = it->second;
    if (!m.error.empty()) return side.caption + " failed: " + m.error;
    if (m.median) {
      seconds = *m.median;
      median = true;
      return {};
    }
    if (m.seconds.empty()) return side.caption + " has no time";
    seconds = std::accumulate(m.seconds.begin(), m.seconds.end(), 0.0) /
              static_cast<double>(m.seconds.size());
    return {};
  };

  // "" when the side has the counter (in `value`), else why not.
  auto counterOf = [&](const RatioSide& side, const std::string& name, double& value,
                       bool& median) -> std::string {
    const auto it = measured_.find(side.benchmark);
    if (it == measured_.end()) return side.caption + " did not run";
    const Measured& m = it->second;
    if (!m.error.empty()) return side.caption + " failed: " + m.error;
    if (const auto c = m.median_counters.find(name); c != m.median_counters.end()) {
      value = c->second;
      median = true;
      return {};
    }
    const auto c = m.counters.find(name);
    if (c == m.counters.end() || c->second.empty()) return side.caption + " has no " + name;
    value = std::accumulate(c->second.begin(), c->second.end(), 0.0) /
            static_cast<double>(c->second.size());
    return {};
  };

  for (const RatioSpec& spec : registry()) {
    if (!measured_.count(spec.numerator.benchmark) && !measured_.count(spec.denominator.benchmark))
      continue;  // filtered out
    for (const std::string& name : spec.counters) {
      double num = 0, den = 0;
      bool num_median = false, den_median = false;
      std::string why = counterOf(spec.numerator, name, num, num_median);
      if (why.empty()) why = counterOf(spec.denominator, name, den, den_median);
      if (why.empty() && den <= 0) why = spec.denominator.caption + " has no " + name;
      out << "ratio " << spec.label << " " << name << ": ";
      if (!why.empty()) {
        out << "not available (" << why << ")\n";
        continue;
      }
      char ratio[32];
      std::snprintf(ratio, sizeof ratio, "%.2fx", num / den);
      out << spec.numerator.caption << " " << counterValue(num) << " / " << spec.denominator.caption
          << " " << counterValue(den) << " = " << ratio
          << (num_median && den_median ? " (medians)" : "") << "\n";
    }
    if (!spec.counters.empty()) continue;
    double num = 0, den = 0;
    bool num_median = false, den_median = false;
    std::string why = timeOf(spec.numerator, num, num_median);
    if (why.empty()) why = timeOf(spec.denominator, den, den_median);
    if (why.empty() && den <= 0) why = spec.denominator.caption + " took no time";
    out << "ratio " << spec.label << ": ";
    if (!why.empty()) {
      out << "not available (" << why << ")\n";
      continue;
    }
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.1fx", num / den);
    out << spec.numerator.caption << " " << milliseconds(num) << " / " << spec.denominator.caption
        << " " << milliseconds(den) << " = " << ratio
        << (num_median && den_median ? " (medians)" : "") << "\n";
  }
  out.flush();
}

}  // namespace deadpeer::bench
