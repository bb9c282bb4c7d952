// The HTML page: one self-contained file (inline CSS, inline SVG, no script,
// no address of anything to fetch). The run's facts and the summary table
// come first, above the fold; then one section per scenario variant.
//
// Every time on the page is after the trial's anchor (report/text.hpp,
// RowTimes), the frame the table uses: a section draws all its trials as
// rows of one chart on one shared axis, each row with its own window as a
// band, so trials compare at a glance. Size stays bounded whatever the
// scenario: a row with many detections becomes a histogram, a row with many
// segments on the wire is binned, only the first rows are drawn one by one
// (then one row pools every trial), and events are listed for failed trials
// only, capped (the JSON has them all). Text lives in HTML tables, not in
// the SVG, so no label can overlap another; the chart's only text is the
// axis and the row names.
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "deadpeer/report/report.hpp"
#include "deadpeer/report/text.hpp"

namespace deadpeer {
namespace {

using report::htmlEscape;

// Rows drawn one by one per result; more trials add one pooled row.
constexpr std::size_t kMaxRows = 12;
// A row with more detections than this draws their histogram.
constexpr std::size_t kMaxDetectionDots = 12;
// A row with more segments than this bins them per kind.
constexpr std::size_t kMaxWireGlyphs = 60;
// Event lines listed per failed trial.
constexpr std::size_t kMaxEventLines = 60;
// Detections listed by time in the trials table.
constexpr std::size_t kMaxListedDetections = 5;

// Geometry of a chart, in SVG user units.
constexpr double kWidth = 960;
constexpr double kLeft = 96;
constexpr double kRight = 16;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kRowHeight = 30;
constexpr double kHistogramRowHeight = 54;
constexpr double kAxisHeight = 40;
constexpr double kBinWidth = 5;  // histogram and wire bins

std::string num(double v) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.1f", v);
  return buffer;
}

std::string withUnit(Seconds s) { return report::secondsText(s) + " s"; }

enum class Shape { kCircle, kTriangleUp, kTriangleDown, kSquare, kCross, kDiamond, kBar };

// How each kind of mark is drawn: one row per kind, not an if-chain.
struct Glyph {
  std::string_view kind;
  std::string_view label;
  std::string_view colour;
  Shape shape;
  double dy;  // from the row's line: sent above, answers below
};
constexpr Glyph kGlyphs[] = {
    {"probe", "keepalive/window probe", "#1f6fd1", Shape::kCircle, -7},
    {"probe-ack", "probe ACK", "#74a9e8", Shape::kCircle, 7},
    {"ping", "PING", "#7b2cbf", Shape::kTriangleUp, -7},
    {"pong", "PONG", "#b185db", Shape::kTriangleDown, 7},
    {"data", "data", "#6c757d", Shape::kSquare, 0},
    {"rst", "RST", "#9d0208", Shape::kCross, 0},
    {"fin", "FIN", "#212529", Shape::kDiamond, 0},
    {"icmp", "ICMP error", "#e85d04", Shape::kDiamond, 7},
};
constexpr Glyph kOtherGlyph = {"", "other segment", "#adb5bd", Shape::kCircle, 0};
// Instants of the trial, drawn as ticks across its row.
constexpr Glyph kFaultGlyph = {"fault", "fault", "#d00000", Shape::kBar, 0};
constexpr Glyph kRevertGlyph = {"revert", "fault reverted", "#2b9348", Shape::kBar, 0};
// Detections: in their window, outside a window they were held to, and
// not held to any (a live peer's mistake, an external program's exit).
constexpr Glyph kInWindow = {"in", "detection in its window", "#007f5f", Shape::kCircle, 0};
constexpr Glyph kOutside = {"out", "detection outside its window", "#c1121f", Shape::kCircle, 0};
constexpr Glyph kUnjudged = {"unjudged", "detection (no window)", "#495057", Shape::kCircle, 0};

const Glyph& glyphFor(std::string_view kind) {
  for (const Glyph& g : kGlyphs)
    if (g.kind == kind) return g;
  return kOtherGlyph;
}

bool isInstant(std::string_view kind) {
  return kind == "fault" || kind == "revert" || kind == "last-activity" || kind == "warmup" ||
         kind == "detected";
}

std::string shapeSvg(Shape shape, double x, double y, std::string_view colour, double r = 3.5) {
  const std::string c(colour);
  switch (shape) {
    case Shape::kCircle:
      return "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" +
             c + "\"/>";
    case Shape::kTriangleUp:
      return "<path d=\"M" + num(x) + " " + num(y - r) + "L" + num(x - r) + " " + num(y + r) + "H" +
             num(x + r) + "Z\" fill=\"" + c + "\"/>";
    case Shape::kTriangleDown:
      return "<path d=\"M" + num(x) + " " + num(y + r) + "L" + num(x - r) + " " + num(y - r) + "H" +
             num(x + r) + "Z\" fill=\"" + c + "\"/>";
    case Shape::kSquare:
      return "<rect x=\"" + num(x - r * 0.8) + "\" y=\"" + num(y - r * 0.8) + "\" width=\"" +
             num(r * 1.6) + "\" height=\"" + num(r * 1.6) + "\" fill=\"" + c + "\"/>";
    case Shape::kCross:
      return "<path d=\"M" + num(x - r) + " " + num(y - r) + "L" + num(x + r) + " " + num(y + r) +
             "M" + num(x - r) + " " + num(y + r) + "L" + num(x + r) + " " + num(y - r) +
             "\" stroke=\"" + c + "\" stroke-width=\"2\"/>";
    case Shape::kDiamond:
      return "<path d=\"M" + num(x) + " " + num(y - r) + "L" + num(x + r) + " " + num(y) + "L" +
             num(x) + " " + num(y + r) + "L" + num(x - r) + " " + num(y) + "Z\" fill=\"" + c +
             "\"/>";
    case Shape::kBar:
      return "<path d=\"M" + num(x) + " " + num(y - 2.5 * r) + "V" + num(y + 2.5 * r) +
             "\" stroke=\"" + c + "\" stroke-width=\"2\"/>";
  }
  return "";
}

std::string familyName(int family) {
  if (family == AF_INET) return "IPv4";
  if (family == AF_INET6) return "IPv6";
  return "";
}

std::string verdictBadge(ScenarioResult::Verdict v) {
  return "<span class=\"verdict " + report::verdictKey(v) + "\">" + std::string(verdictName(v)) +
         "</span>";
}

std::string qualityText(const QualityMetrics& q) {
  std::string text = std::to_string(q.mistakes) + " mistake(s) in " + withUnit(q.observed);
  if (q.t_mr) text += ", T_MR " + withUnit(*q.t_mr);
  if (q.t_m) text += ", T_M " + withUnit(*q.t_m);
  if (q.p_a) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.6f", *q.p_a);
    text += std::string(", P_A ") + buffer;
  }
  return text;
}

// The x axis: a "nice" step (1, 2 or 5 x 10^k) giving about ten ticks, and
// the range widened to whole steps.
struct Axis {
  double t0 = -1;
  double t1 = 1;
  double step = 1;
  int decimals = 0;

  double x(double t) const { return kLeft + (t - t0) / (t1 - t0) * kPlotWidth; }
  double x(Seconds t) const { return x(t.count()); }
  bool contains(Seconds t) const {
    return std::isfinite(t.count()) && t.count() >= t0 && t.count() <= t1;
  }
  std::string label(double t) const {
    if (std::fabs(t) < step / 2) t = 0;  // never "-0"
    char buffer[48];
    std::snprintf(buffer, sizeof buffer, "%.*f", decimals, t);
    return buffer;
  }
};

Axis makeAxis(double lo, double hi) {
  Axis axis;
  if (!(hi > lo)) {
    lo -= 1;
    hi += 1;
  }
  const double raw = (hi - lo) / 10;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  axis.step = step;
  axis.t0 = std::floor(lo / step + 1e-9) * step;
  axis.t1 = std::ceil(hi / step - 1e-9) * step;
  if (!(axis.t1 > axis.t0)) axis.t1 = axis.t0 + step;
  axis.decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) + 1e-9)));
  return axis;
}

// Kinds drawn in one chart, for its legend.
struct Drawn {
  std::vector<const Glyph*> glyphs;
  bool band = false;
  void add(const Glyph& g) {
    if (std::find(glyphs.begin(), glyphs.end(), &g) == glyphs.end()) glyphs.push_back(&g);
  }
};

// One detection after the anchor, and how it was judged.
struct Dot {
  Seconds at{};
  const Glyph* glyph = &kUnjudged;
  std::string title;
};

std::vector<Dot> dotsOf(const TrialResult& trial) {
  std::vector<Dot> dots;
  for (const Detection& d : trial.detections) {
    if (!std::isfinite(d.at.count())) continue;
    Dot dot;
    dot.at = d.at - trial.anchor;
    if (trial.window_checked)
      dot.glyph =
          d.at >= trial.window_earliest && d.at <= trial.window_latest ? &kInWindow : &kOutside;
    dot.title = "detected by " + std::string(detectorName(d.detector)) + " " + withUnit(dot.at) +
                " after the " + report::anchorShortName(trial.anchor_name);
    if (d.error != 0) dot.title += " (" + report::errnoName(d.error) + ")";
    if (!d.peer.empty())
      dot.title += ", " + d.peer + (d.connection >= 0 ? "#" + std::to_string(d.connection) : "");
    dots.push_back(std::move(dot));
  }
  return dots;
}

// A histogram of dots in a row: one bar per bin, stacked by glyph.
std::string histogramSvg(const std::vector<Dot>& dots, const Axis& axis, double y_base,
                         double height, Drawn& drawn) {
  const std::size_t bins = static_cast<std::size_t>(kPlotWidth / kBinWidth) + 1;
  std::map<const Glyph*, std::vector<int>> counts;
  int top = 0;
  std::vector<int> total(bins, 0);
  for (const Dot& dot : dots) {
    if (!axis.contains(dot.at)) continue;
    const std::size_t bin =
        std::min(bins - 1, static_cast<std::size_t>((axis.x(dot.at) - kLeft) / kBinWidth));
    auto& row = counts[dot.glyph];
    row.resize(bins, 0);
    ++row[bin];
    top = std::max(top, ++total[bin]);
  }
  std::string out;
  std::vector<int> stacked(bins, 0);
  for (const Glyph* g : {&kInWindow, &kOutside, &kUnjudged}) {
    auto it = counts.find(g);
    if (it == counts.end()) continue;
    drawn.add(*g);
    std::string path;
    for (std::size_t b = 0; b < bins; ++b) {
      const int n = it->second[b];
      if (n == 0) continue;
      const double h = height * n / top;
      const double y = y_base - height * stacked[b] / top - h;
      path += "M" + num(kLeft + b * kBinWidth) + " " + num(y) + "h" + num(kBinWidth - 1) + "v" +
              num(h) + "h" + num(1 - kBinWidth) + "Z";
      stacked[b] += n;
    }
    out += "<path d=\"" + path + "\" fill=\"" + std::string(g->colour) + "\"><title>" +
           htmlEscape(std::string(g->label)) + "</title></path>\n";
  }
  return out;
}

struct ChartRow {
  std::string label;
  bool failed = false;
  const TrialResult* trial = nullptr;  // null: the pooled row
  std::vector<Dot> dots;
};

std::string chartSvg(const ScenarioResult& result, Drawn& drawn, std::size_t& hidden_marks) {
  std::vector<ChartRow> rows;
  const std::size_t drawn_trials = std::min(result.trials.size(), kMaxRows);
  for (std::size_t i = 0; i < drawn_trials; ++i) {
    const TrialResult& t = result.trials[i];
    rows.push_back({"trial " + std::to_string(t.trial), !t.passed, &t, dotsOf(t)});
  }
  if (drawn_trials < result.trials.size()) {
    ChartRow pooled{"all " + std::to_string(result.trials.size()), false, nullptr, {}};
    for (const TrialResult& t : result.trials) {
      std::vector<Dot> d = dotsOf(t);
      pooled.dots.insert(pooled.dots.end(), d.begin(), d.end());
      pooled.failed = pooled.failed || !t.passed;
    }
    rows.push_back(std::move(pooled));
  }

  // The range: the anchor, the faults, the windows, the detections; for a
  // trial without detections, the end of its watch.
  double lo = 0;
  double hi = 0;
  auto include = [&](Seconds s) {
    if (!std::isfinite(s.count())) return;
    lo = std::min(lo, s.count());
    hi = std::max(hi, s.count());
  };
  for (const TrialResult& t : result.trials) {
    include(-t.anchor);
    if (t.window_checked) {
      include(t.window_earliest - t.anchor);
      include(t.window_latest - t.anchor);
    }
    for (const Detection& d : t.detections) include(d.at - t.anchor);
    for (const TimelineMark& m : t.timeline)
      if (m.kind == "revert") include(m.at - t.anchor);
    if (t.detections.empty()) include(t.observed - t.anchor);
  }
  // Room for what preceded the anchor (the last segments before it).
  lo -= (hi - lo) * 0.04;
  const Axis axis = makeAxis(lo, hi);

  double height = 8;
  for (const ChartRow& row : rows) {
    const bool histogram = row.dots.size() > kMaxDetectionDots;
    height += histogram ? kHistogramRowHeight : kRowHeight;
  }
  const double plot_bottom = height;
  height += kAxisHeight;

  std::string body;
  // Grid and axis.
  const int ticks = static_cast<int>(std::lround((axis.t1 - axis.t0) / axis.step));
  std::string grid;
  std::string labels;
  for (int i = 0; i <= ticks; ++i) {
    const double t = axis.t0 + i * axis.step;
    const std::string x = num(axis.x(t));
    grid += "M" + x + " 4V" + num(plot_bottom + 4);
    labels += "<text class=\"tick\" data-t=\"" + axis.label(t) + "\" x=\"" + x + "\" y=\"" +
              num(plot_bottom + 18) + "\" text-anchor=\"middle\">" + axis.label(t) + "</text>";
  }
  body += "<path class=\"grid\" d=\"" + grid + "\" stroke=\"#e9ecef\"/>\n";
  body += "<path class=\"axis\" d=\"M" + num(kLeft) + " " + num(plot_bottom + 4) + "H" +
          num(kLeft + kPlotWidth) + "\" stroke=\"#495057\"/>\n" + labels + "\n";
  const report::RowTimes times = report::rowTimes(result);
  body += "<text class=\"axis-title\" x=\"" + num(kLeft + kPlotWidth) + "\" y=\"" +
          num(plot_bottom + 34) + "\" text-anchor=\"end\">" +
          htmlEscape("seconds after the " + (times.earliest ? times.from : std::string("fault"))) +
          "</text>\n";

  double y = 8;
  for (const ChartRow& row : rows) {
    const bool histogram = row.dots.size() > kMaxDetectionDots;
    const double row_height = histogram ? kHistogramRowHeight : kRowHeight;
    const double mid = y + row_height / 2;
    std::string g = "<g class=\"row" + std::string(row.failed ? " failed" : "") + "\">";
    g += "<text class=\"row-label\" x=\"" + num(kLeft - 8) + "\" y=\"" + num(mid + 4) +
         "\" text-anchor=\"end\">" + htmlEscape(row.label) + "</text>";
    const TrialResult* t = row.trial;
    // The window, under everything else.
    auto band = [&](const TrialResult& trial, double opacity) {
      if (!trial.window_checked) return;
      const Seconds a = trial.window_earliest - trial.anchor;
      const Seconds b = trial.window_latest - trial.anchor;
      drawn.band = true;
      g += "<rect class=\"window\" x=\"" + num(axis.x(a)) + "\" y=\"" + num(y + 3) + "\" width=\"" +
           num(std::max(1.0, axis.x(b) - axis.x(a))) + "\" height=\"" + num(row_height - 6) +
           "\" fill=\"#2b9348\" fill-opacity=\"" + num(opacity) + "\"><title>" +
           htmlEscape("window " + withUnit(a) + " to " + withUnit(b) + " after the " +
                      report::anchorShortName(trial.anchor_name)) +
           "</title></rect>";
    };
    if (t) {
      band(*t, 0.22);
    } else {
      for (const TrialResult& trial : result.trials) band(trial, 0.22 / 4);
    }
    if (t) {
      // The connection until it was declared dead.
      double end = axis.t1;
      if (!t->detections.empty()) end = (t->detections.front().at - t->anchor).count();
      end = std::clamp(end, axis.t0, axis.t1);
      g += "<path class=\"connection\" d=\"M" + num(kLeft) + " " + num(mid) + "H" +
           num(axis.x(end)) + "\" stroke=\"#adb5bd\" stroke-width=\"1.5\"/>";
      // Segments on the wire; binned per kind when there are many.
      std::vector<const TimelineMark*> wire;
      for (const TimelineMark& m : t->timeline) {
        if (isInstant(m.kind)) continue;
        if (!axis.contains(m.at - t->anchor)) {
          ++hidden_marks;
          continue;
        }
        wire.push_back(&m);
      }
      if (wire.size() <= kMaxWireGlyphs) {
        for (const TimelineMark* m : wire) {
          const Glyph& glyph = glyphFor(m->kind);
          drawn.add(glyph);
          const Seconds at = m->at - t->anchor;
          g += "<g>" + shapeSvg(glyph.shape, axis.x(at), mid + glyph.dy, glyph.colour) + "<title>" +
               htmlEscape(m->kind + " " + withUnit(at) + (m->text.empty() ? "" : ": " + m->text)) +
               "</title></g>";
        }
      } else {
        std::map<std::pair<const Glyph*, long>, int> bins;
        for (const TimelineMark* m : wire) {
          const long bin = std::lround((axis.x(m->at - t->anchor) - kLeft) / kBinWidth);
          ++bins[{&glyphFor(m->kind), bin}];
        }
        for (const auto& [key, n] : bins) {
          drawn.add(*key.first);
          g += "<g>" +
               shapeSvg(key.first->shape, kLeft + key.second * kBinWidth, mid + key.first->dy,
                        key.first->colour) +
               "<title>" + htmlEscape(std::to_string(n) + " x " + std::string(key.first->label)) +
               "</title></g>";
        }
      }
      // The fault and its revert, as ticks across the row.
      for (const TimelineMark& m : t->timeline) {
        if (m.kind != "fault" && m.kind != "revert") continue;
        const Glyph& glyph = m.kind == "fault" ? kFaultGlyph : kRevertGlyph;
        const Seconds at = m.at - t->anchor;
        if (!axis.contains(at)) continue;
        drawn.add(glyph);
        g += "<g>" + shapeSvg(glyph.shape, axis.x(at), mid, glyph.colour, row_height / 6) +
             "<title>" + htmlEscape(m.kind + " " + withUnit(at) + ": " + m.text) + "</title></g>";
      }
      if (std::none_of(t->timeline.begin(), t->timeline.end(),
                       [](const TimelineMark& m) { return m.kind == "fault"; }) &&
          axis.contains(-t->anchor)) {
        drawn.add(kFaultGlyph);
        g += "<g>" +
             shapeSvg(kFaultGlyph.shape, axis.x(-t->anchor), mid, kFaultGlyph.colour,
                      row_height / 6) +
             "<title>fault</title></g>";
      }
    }
    // Detections: dots, or their histogram.
    if (histogram) {
      g += histogramSvg(row.dots, axis, y + row_height - 3, row_height - 8, drawn);
    } else {
      for (const Dot& dot : row.dots) {
        if (!axis.contains(dot.at)) continue;
        drawn.add(*dot.glyph);
        g += "<g class=\"detection\">" +
             shapeSvg(dot.glyph->shape, axis.x(dot.at), mid, dot.glyph->colour, 5.5) + "<title>" +
             htmlEscape(dot.title) + "</title></g>";
      }
    }
    g += "</g>\n";
    body += g;
    y += row_height;
  }
  // The anchor, across every row.
  body += "<path class=\"anchor\" d=\"M" + num(axis.x(0.0)) + " 4V" + num(plot_bottom + 4) +
          "\" stroke=\"#343a40\" stroke-dasharray=\"3 3\"/>\n";

  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 " + num(kWidth) +
         " " + num(height) + "\" width=\"" + num(kWidth) + "\" height=\"" + num(height) +
         "\" role=\"img\" aria-label=\"" + htmlEscape("trials of " + result.name + " on one axis") +
         "\">\n" + body + "</svg>\n";
}

std::string legendHtml(const Drawn& drawn, bool has_anchor) {
  std::string out = "<ul class=\"legend\">";
  auto item = [&](const std::string& svg, std::string_view label) {
    out +=
        "<li><svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"-7 -7 14 14\" width=\"14\" "
        "height=\"14\">" +
        svg + "</svg>" + htmlEscape(label) + "</li>";
  };
  if (drawn.band)
    item(
        "<rect x=\"-6\" y=\"-6\" width=\"12\" height=\"12\" fill=\"#2b9348\" "
        "fill-opacity=\"0.3\"/>",
        "window");
  if (has_anchor)
    item("<path d=\"M0 -6V6\" stroke=\"#343a40\" stroke-dasharray=\"3 3\"/>", "anchor (0)");
  for (const Glyph* g : drawn.glyphs) {
    const double r = g->shape == Shape::kBar                                  ? 2.2
                     : (g == &kInWindow || g == &kOutside || g == &kUnjudged) ? 5
                                                                              : 3.5;
    item(shapeSvg(g->shape, 0, 0, g->colour, r), g->label);
  }
  out += "</ul>\n";
  return out;
}

std::string detectionsCell(const TrialResult& trial) {
  if (trial.quality && !trial.detection_expected) return qualityText(*trial.quality);
  if (trial.detections.empty())
    return "none in " + withUnit(trial.observed - trial.anchor) + " after the " +
           report::anchorShortName(trial.anchor_name);
  std::vector<Seconds> since;
  for (const Detection& d : trial.detections) since.push_back(d.at - trial.anchor);
  if (since.size() <= kMaxListedDetections) {
    std::string out;
    for (Seconds s : since) out += (out.empty() ? "" : ", ") + withUnit(s);
    return out;
  }
  const std::optional<Percentiles> p = percentiles(since);
  return std::to_string(since.size()) + ": p50 " + withUnit(p->p50) + ", p99 " + withUnit(p->p99) +
         ", max " + withUnit(p->max);
}

std::string trialsTable(const ScenarioResult& result) {
  std::string out =
      "<table class=\"trials\"><tr><th>trial</th><th>verdict</th><th>anchor</th>"
      "<th>window</th><th>detections</th><th>wire</th><th>failures</th></tr>\n";
  for (const TrialResult& t : result.trials) {
    std::string anchor = report::anchorShortName(t.anchor_name);
    if (t.anchor.count() != 0)
      anchor += ", " + withUnit(Seconds(std::fabs(t.anchor.count()))) +
                (t.anchor.count() < 0 ? " before" : " after") + " the fault";
    const std::string window = t.window_checked ? withUnit(t.window_earliest - t.anchor) + " to " +
                                                      withUnit(t.window_latest - t.anchor)
                                                : (t.detection_expected ? "not checked" : "never");
    std::string wire = std::to_string(t.probes_seen) + " probe(s)";
    if (t.rst_from) wire += ", RST from " + *t.rst_from;
    if (!t.icmp_seen.empty()) wire += ", " + t.icmp_seen.front();
    std::string failures;
    for (const std::string& f : t.failures) failures += (failures.empty() ? "" : "; ") + f;
    out += std::string("<tr") + (t.passed ? "" : " class=\"failed\"") + "><td>" +
           std::to_string(t.trial) + "</td><td>" + (t.passed ? "passed" : "failed") + "</td><td>" +
           htmlEscape(anchor) + "</td><td class=\"num\">" + htmlEscape(window) +
           "</td><td class=\"num\">" + htmlEscape(detectionsCell(t)) + "</td><td>" +
           htmlEscape(wire) + "</td><td>" + htmlEscape(failures) + "</td></tr>\n";
  }
  out += "</table>\n";
  return out;
}

std::string eventsOf(const TrialResult& trial) {
  const std::optional<Event::Clock::time_point> zero = report::faultTime(trial);
  std::string out = "<details><summary>events of trial " + std::to_string(trial.trial) + " (" +
                    std::to_string(trial.events.size()) + ", after the fault)</summary><pre>";
  std::size_t shown = 0;
  for (const Event& e : trial.events) {
    if (shown++ == kMaxEventLines) {
      out += htmlEscape("... " + std::to_string(trial.events.size() - kMaxEventLines) +
                        " more in the JSON results\n");
      break;
    }
    std::string line;
    if (zero) {
      char stamp[32];
      std::snprintf(stamp, sizeof stamp, "%+10.6f ", Seconds(e.at - *zero).count());
      line = stamp;
    }
    line += e.peer;
    if (e.connection >= 0) line += "#" + std::to_string(e.connection);
    line += " " + std::string(eventKindName(e.kind));
    if (e.kind == EventKind::kDetected) line += " " + std::string(detectorName(e.detector));
    if (e.error != 0) line += " " + report::errnoName(e.error);
    if (!e.text.empty()) line += " " + e.text;
    out += htmlEscape(line) + "\n";
  }
  out += "</pre></details>\n";
  return out;
}

std::string summaryTable(const std::vector<ScenarioResult>& results) {
  std::string out =
      "<table class=\"summary\">\n<tr><th>scenario</th><th>detector</th><th>fault</th>"
      "<th>after</th><th class=\"num\">window</th><th class=\"num\">p50</th>"
      "<th class=\"num\">p99</th><th>detections</th><th>verdict</th></tr>\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const ScenarioResult& r = results[i];
    const report::RowTimes times = report::rowTimes(r);
    out += "<tr><td><a href=\"#r" + std::to_string(i) + "\">" + htmlEscape(r.name) +
           "</a></td><td>" + htmlEscape(r.detector) + "</td><td>" + htmlEscape(r.fault) +
           "</td><td>" + htmlEscape(times.earliest ? times.from : "-") + "</td><td class=\"num\">" +
           htmlEscape(report::windowText(times)) + "</td><td class=\"num\">" +
           htmlEscape(report::percentileText(times, &Percentiles::p50)) +
           "</td><td class=\"num\">" +
           htmlEscape(report::percentileText(times, &Percentiles::p99)) + "</td><td>" +
           htmlEscape(r.verdict == ScenarioResult::Verdict::kSkip ? "-"
                                                                  : report::detectionsText(times)) +
           "</td><td>" + verdictBadge(r.verdict) + "</td></tr>\n";
  }
  out += "</table>\n";
  return out;
}

std::string resultSection(const ScenarioResult& result, std::size_t index) {
  std::string out = "<section id=\"r" + std::to_string(index) + "\" class=\"result " +
                    report::verdictKey(result.verdict) + "\">\n<h2>" +
                    verdictBadge(result.verdict) + " " + htmlEscape(result.name) + "</h2>\n";
  if (!result.reason.empty()) out += "<p class=\"reason\">" + htmlEscape(result.reason) + "</p>\n";
  std::string facts = result.detector + " · " + result.fault;
  if (const std::string family = familyName(result.family); !family.empty())
    facts += " · " + family;
  facts += " · " + std::to_string(result.trials.size()) + " trial(s) in " + withUnit(result.wall);
  if (!result.file.empty()) facts += " · " + report::relativePath(result.file);
  out += "<p class=\"facts\">" + htmlEscape(facts) + "</p>\n";
  const report::RowTimes times = report::rowTimes(result);
  std::string measured = "window " + report::windowText(times);
  if (times.earliest) measured += " after the " + times.from;
  if (result.quality && times.live)
    measured += "; " + qualityText(*result.quality);
  else if (result.verdict != ScenarioResult::Verdict::kSkip)
    measured += "; " + report::detectionsText(times);
  if (times.since && !times.live)
    measured += "; p50 " + report::percentileText(times, &Percentiles::p50) + ", p99 " +
                report::percentileText(times, &Percentiles::p99) + ", max " +
                report::percentileText(times, &Percentiles::max) + " (" +
                std::to_string(times.since->samples) + " samples)";
  out += "<p class=\"measured\">" + htmlEscape(measured) + "</p>\n";
  if (result.trials.empty()) return out + "</section>\n";

  Drawn drawn;
  std::size_t hidden = 0;
  out += chartSvg(result, drawn, hidden);
  out += legendHtml(drawn, true);
  if (hidden > 0)
    out += "<p class=\"note\">" + std::to_string(hidden) +
           " segment(s) outside the drawn range (before the anchor) are in the JSON.</p>\n";
  out += trialsTable(result);
  const TrialResult& first = result.trials.front();
  if (!first.window.reasoning.empty()) {
    out += "<details><summary>oracle reasoning (trial " + std::to_string(first.trial) +
           ")</summary><ol>\n";
    for (const std::string& step : first.window.reasoning)
      out += "<li>" + htmlEscape(step) + "</li>\n";
    out += "</ol></details>\n";
  }
  if (!result.pcap_files.empty()) {
    std::string files;
    for (const std::string& f : result.pcap_files)
      files += (files.empty() ? "" : ", ") + report::relativePath(f);
    out += "<p class=\"note\">pcap: " + htmlEscape(files) + "</p>\n";
  }
  for (const TrialResult& t : result.trials)
    if (!t.passed && !t.events.empty()) out += eventsOf(t);
  out += "</section>\n";
  return out;
}

std::string runFacts(const RunInfo& run) {
  std::string command;
  for (const std::string& word : run.command) command += (command.empty() ? "" : " ") + word;
  std::string out = "<dl class=\"run\">";
  auto fact = [&](std::string_view name, const std::string& value) {
    if (!value.empty())
      out += "<dt>" + htmlEscape(name) + "</dt><dd>" + htmlEscape(value) + "</dd>";
  };
  fact("deadpeer", run.version);
  fact("kernel", run.kernel);
  fact("HZ", run.hz == 0 ? "" : std::to_string(run.hz));
  fact("host", run.host);
  const std::string started = utcTimestamp(run.started);
  fact("started", started.empty() ? "" : started + "Z");
  fact("command", command);
  out += "</dl>\n";
  return out;
}

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; color: #212529; margin: 1em auto; max-width: 1200px; padding: 0 1em; }
h1 { font-size: 1.5em; margin: 0 0 0.2em; }
h2 { font-size: 1.15em; border-top: 1px solid #dee2e6; padding-top: 0.8em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.4em 0; }
th, td { text-align: left; padding: 0.15em 0.8em 0.15em 0; vertical-align: top; }
table.summary, table.trials { font-size: 13px; }
table.summary th, table.trials th { border-bottom: 1px solid #adb5bd; }
table.summary td, table.trials td { border-bottom: 1px solid #f1f3f5; }
tr.failed td { color: #c1121f; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.verdict { font-weight: bold; padding: 0 0.4em; border-radius: 3px; color: #fff; }
.verdict.pass { background: #2b9348; }
.verdict.fail { background: #c1121f; }
.verdict.skip { background: #6c757d; }
.verdict.error { background: #e85d04; }
.counts { font-size: 1.2em; margin: 0.2em 0; }
.reason { font-weight: bold; color: #c1121f; }
.facts, .note, .frame { color: #6c757d; margin: 0.2em 0; }
.measured { margin: 0.2em 0; }
dl.run { display: flex; flex-wrap: wrap; gap: 0 1.2em; margin: 0.2em 0; color: #495057; }
dl.run dt { font-weight: bold; } dl.run dd { margin: 0 0 0 0.3em; }
svg.chart { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.chart text { fill: #343a40; }
svg.chart .failed .row-label { fill: #c1121f; font-weight: bold; }
ul.legend { list-style: none; padding: 0; margin: 0.2em 0 0.4em; display: flex; flex-wrap: wrap; gap: 0.2em 1.2em; font-size: 12px; color: #495057; }
ul.legend svg { vertical-align: middle; margin-right: 0.3em; }
pre { font-size: 12px; background: #f8f9fa; padding: 0.5em; overflow-x: auto; }
a { color: #1f6fd1; }
)";

}  // namespace

std::string html(const std::vector<ScenarioResult>& results, const RunInfo& run) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<title>deadpeer results</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<header id=\"summary\">\n<h1>deadpeer results</h1>\n";
  out += "<p class=\"counts\">" + htmlEscape(report::countsText(report::count(results))) + "</p>\n";
  out += runFacts(run);
  out += "<p class=\"frame\">" + htmlEscape(report::kTimeFrameNote) +
         " How to read them: docs/reading-results.md.</p>\n";
  out += summaryTable(results);
  out += "</header>\n";
  for (std::size_t i = 0; i < results.size(); ++i) out += resultSection(results[i], i);
  out += "</body>\n</html>\n";
  return out;
}

void writeHtml(const std::vector<ScenarioResult>& results, const std::filesystem::path& file,
               const RunInfo& run) {
  report::writeFile(file, html(results, run));
}

}  // namespace deadpeer
