// The HTML page: one self-contained file (inline CSS, inline SVG, no script,
// no address of anything to fetch), the summary table at the top, then one
// section per scenario variant with an SVG timeline per trial drawn.
//
// A timeline's x axis is seconds after the fault, from a tick below the
// earliest thing drawn to a tick above the latest; each tick carries its
// time (data-t) so that readers and tests can relate x to t.
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "deadpeer/report/report.hpp"
#include "deadpeer/report/text.hpp"

namespace deadpeer {
namespace {

using report::htmlEscape;

// Trials drawn per result: all of them up to this many, else the first.
constexpr std::size_t kMaxDrawnTrials = 5;

// Geometry of one timeline, in SVG user units.
constexpr double kWidth = 960;
constexpr double kLeft = 70;
constexpr double kRight = 30;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kTop = 20;       // top of the band and of the vertical markers
constexpr double kLineY = 68;     // the connection
constexpr double kAxisY = 112;    // the x axis
constexpr double kLegendY = 160;  // first legend row
constexpr double kLegendRow = 18;
constexpr double kLegendItem = 125;
constexpr double kLastActivityLabel = 80;  // width of "last activity" at 11 px

std::string num(double v) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  return buffer;
}

enum class Shape { kCircle, kTriangleUp, kTriangleDown, kSquare, kCross, kDiamond };

// How each kind of wire mark is drawn: one row per kind, not an if-chain.
struct Glyph {
  std::string_view kind;
  std::string_view label;
  std::string_view colour;
  Shape shape;
  double dy;  // offset from the connection line: sent above, answers below
};
constexpr Glyph kGlyphs[] = {
    {"probe", "probe", "#1f6fd1", Shape::kCircle, -12},
    {"ping", "PING", "#7b2cbf", Shape::kTriangleUp, -12},
    {"pong", "PONG", "#7b2cbf", Shape::kTriangleDown, 12},
    {"data", "data", "#6c757d", Shape::kSquare, 0},
    {"rst", "RST", "#d00000", Shape::kCross, 0},
    {"fin", "FIN", "#212529", Shape::kDiamond, 0},
    {"icmp", "ICMP error", "#e85d04", Shape::kDiamond, 12},
};
constexpr Glyph kOtherGlyph = {"", "other", "#adb5bd", Shape::kCircle, 0};

const Glyph* glyphFor(std::string_view kind) {
  for (const Glyph& g : kGlyphs) {
    if (g.kind == kind) return &g;
  }
  return nullptr;
}

// Vertical markers (timeline marks that are instants of the trial, not
// segments on the wire).
bool isVerticalMark(std::string_view kind) {
  return kind == "fault" || kind == "revert" || kind == "last-activity" || kind == "warmup" ||
         kind == "detected";
}

std::string shapeSvg(Shape shape, double x, double y, std::string_view colour, double r = 4.5) {
  const std::string c(colour);
  switch (shape) {
    case Shape::kCircle:
      return "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"" + num(r) + "\" fill=\"" +
             c + "\"/>";
    case Shape::kTriangleUp:
      return "<polygon points=\"" + num(x) + "," + num(y - r) + " " + num(x - r) + "," +
             num(y + r) + " " + num(x + r) + "," + num(y + r) + "\" fill=\"" + c + "\"/>";
    case Shape::kTriangleDown:
      return "<polygon points=\"" + num(x) + "," + num(y + r) + " " + num(x - r) + "," +
             num(y - r) + " " + num(x + r) + "," + num(y - r) + "\" fill=\"" + c + "\"/>";
    case Shape::kSquare:
      return "<rect x=\"" + num(x - r * 0.8) + "\" y=\"" + num(y - r * 0.8) + "\" width=\"" +
             num(r * 1.6) + "\" height=\"" + num(r * 1.6) + "\" fill=\"" + c + "\"/>";
    case Shape::kCross:
      return "<path d=\"M" + num(x - r) + " " + num(y - r) + "L" + num(x + r) + " " + num(y + r) +
             "M" + num(x - r) + " " + num(y + r) + "L" + num(x + r) + " " + num(y - r) +
             "\" stroke=\"" + c + "\" stroke-width=\"2.5\" fill=\"none\"/>";
    case Shape::kDiamond:
      return "<polygon points=\"" + num(x) + "," + num(y - r) + " " + num(x + r) + "," + num(y) +
             " " + num(x) + "," + num(y + r) + " " + num(x - r) + "," + num(y) + "\" fill=\"" + c +
             "\"/>";
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

std::string secondsWithUnit(Seconds s) { return report::secondsText(s) + " s"; }

std::string detectionText(const Detection& d) {
  std::string text =
      "detected by " + std::string(detectorName(d.detector)) + " at " + secondsWithUnit(d.at);
  if (d.error != 0) text += " (" + report::errnoName(d.error) + ")";
  if (!d.peer.empty()) {
    text += ", " + d.peer;
    if (d.connection >= 0) text += "#" + std::to_string(d.connection);
  }
  return text;
}

std::string qualityText(const QualityMetrics& q) {
  std::string text = std::to_string(q.mistakes) + " mistake(s) in " + secondsWithUnit(q.observed);
  if (q.t_mr) text += ", T_MR " + secondsWithUnit(*q.t_mr);
  if (q.t_m) text += ", T_M " + secondsWithUnit(*q.t_m);
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

std::string timelineSvg(const TrialResult& trial) {
  // What is drawn decides the range.
  std::vector<const TimelineMark*> wire;
  std::vector<const TimelineMark*> vertical;
  for (const TimelineMark& mark : trial.timeline) {
    if (!std::isfinite(mark.at.count())) continue;
    (isVerticalMark(mark.kind) ? vertical : wire).push_back(&mark);
  }
  const bool has_last_activity_mark =
      std::any_of(vertical.begin(), vertical.end(),
                  [](const TimelineMark* m) { return m->kind == "last-activity"; });
  const bool has_band = !trial.window.never && std::isfinite(trial.window_earliest.count()) &&
                        std::isfinite(trial.window_latest.count());

  double lo = 0;
  double hi = 0;
  auto include = [&](Seconds s) {
    if (!std::isfinite(s.count())) return;
    lo = std::min(lo, s.count());
    hi = std::max(hi, s.count());
  };
  for (const TimelineMark& mark : trial.timeline) include(mark.at);
  for (const Detection& d : trial.detections) include(d.at);
  if (!has_last_activity_mark) include(trial.last_activity);
  if (has_band) {
    include(trial.window_earliest);
    include(trial.window_latest);
  }
  const Axis axis = makeAxis(lo, hi);

  std::vector<std::string> legend;  // one SVG fragment per item, drawn at (0, 0)
  auto legendItem = [&](const std::string& symbol, std::string_view label) {
    legend.push_back(symbol + "<text x=\"12\" y=\"4\">" + htmlEscape(label) + "</text>");
  };
  auto legendLine = [&](std::string_view colour, std::string_view dash, double width,
                        std::string_view label) {
    legendItem("<line x1=\"0\" y1=\"-7\" x2=\"0\" y2=\"7\" stroke=\"" + std::string(colour) +
                   "\" stroke-width=\"" + num(width) + "\"" +
                   (dash.empty() ? "" : " stroke-dasharray=\"" + std::string(dash) + "\"") + "/>",
               label);
  };

  std::string body;
  // The oracle's window, under everything else.
  if (has_band) {
    const double x0 = axis.x(trial.window_earliest);
    const double x1 = axis.x(trial.window_latest);
    std::string title = "oracle window " + secondsWithUnit(trial.window_earliest) + " to " +
                        secondsWithUnit(trial.window_latest);
    if (trial.window.detector != Detector::kNone)
      title += ": " + std::string(detectorName(trial.window.detector));
    if (trial.window.error != 0) title += " " + report::errnoName(trial.window.error);
    if (!trial.window.anchor_name.empty()) title += ", counted from " + trial.window.anchor_name;
    body += "<rect class=\"window\" x=\"" + num(x0) + "\" y=\"" + num(kTop) + "\" width=\"" +
            num(std::max(0.0, x1 - x0)) + "\" height=\"" + num(kAxisY - kTop) +
            "\" fill=\"#2b9348\" fill-opacity=\"0.2\" stroke=\"#2b9348\" "
            "stroke-opacity=\"0.5\"><title>" +
            htmlEscape(title) + "</title></rect>\n";
    legendItem(
        "<rect x=\"-6\" y=\"-7\" width=\"12\" height=\"14\" fill=\"#2b9348\" fill-opacity=\"0.2\" "
        "stroke=\"#2b9348\" stroke-opacity=\"0.5\"/>",
        "oracle window");
  } else {
    std::string note = "oracle: never detected";
    if (!trial.window.reason.empty()) note += " (" + trial.window.reason + ")";
    body += "<text class=\"note\" x=\"" + num(kWidth - kRight) + "\" y=\"" + num(kTop - 6) +
            "\" text-anchor=\"end\">" + htmlEscape(note) + "</text>\n";
  }

  // Ticks and grid.
  body += "<line class=\"axis\" x1=\"" + num(kLeft) + "\" y1=\"" + num(kAxisY) + "\" x2=\"" +
          num(kLeft + kPlotWidth) + "\" y2=\"" + num(kAxisY) + "\" stroke=\"#495057\"/>\n";
  const int ticks = static_cast<int>(std::lround((axis.t1 - axis.t0) / axis.step));
  for (int i = 0; i <= ticks; ++i) {
    const double t = axis.t0 + i * axis.step;
    const std::string x = num(axis.x(t));
    const std::string label = axis.label(t);
    body += "<g class=\"tick\" data-t=\"" + label + "\"><line x1=\"" + x + "\" y1=\"" + num(kTop) +
            "\" x2=\"" + x + "\" y2=\"" + num(kAxisY) + "\" stroke=\"#e9ecef\"/><line x1=\"" + x +
            "\" y1=\"" + num(kAxisY) + "\" x2=\"" + x + "\" y2=\"" + num(kAxisY + 5) +
            "\" stroke=\"#495057\"/><text x=\"" + x + "\" y=\"" + num(kAxisY + 17) +
            "\" text-anchor=\"middle\">" + label + "</text></g>\n";
  }
  body += "<text class=\"axis-title\" x=\"" + num(kLeft + kPlotWidth) + "\" y=\"" +
          num(kAxisY + 33) + "\" text-anchor=\"end\">seconds after the fault</text>\n";

  // The connection, until it was declared dead.
  double line_end = axis.t1;
  if (!trial.detections.empty() && std::isfinite(trial.detections.front().at.count())) {
    line_end = trial.detections.front().at.count();
  }
  body += "<line class=\"connection\" x1=\"" + num(kLeft) + "\" y1=\"" + num(kLineY) + "\" x2=\"" +
          num(axis.x(line_end)) + "\" y2=\"" + num(kLineY) +
          "\" stroke=\"#343a40\" stroke-width=\"2\"><title>"
          "the connection</title></line>\n";

  // Instants: fault, revert, last activity, warm-up.
  auto verticalMarker = [&](std::string_view cls, Seconds at, std::string_view colour,
                            std::string_view dash, std::string_view label, double label_y,
                            std::string_view anchor, const std::string& title) {
    const std::string x = num(axis.x(at));
    body += "<g class=\"" + std::string(cls) + "\"><line x1=\"" + x + "\" y1=\"" + num(kTop) +
            "\" x2=\"" + x + "\" y2=\"" + num(kAxisY) + "\" stroke=\"" + std::string(colour) +
            "\" stroke-width=\"1.5\"" +
            (dash.empty() ? "" : " stroke-dasharray=\"" + std::string(dash) + "\"") +
            "/><text x=\"" + x + "\" y=\"" + num(label_y) + "\" text-anchor=\"" +
            std::string(anchor) + "\" fill=\"" + std::string(colour) + "\">" + htmlEscape(label) +
            "</text><title>" + htmlEscape(title) + "</title></g>\n";
  };
  // Its label sits left of the line, out of the way of what follows,
  // unless that would leave the picture.
  auto lastActivityAnchor = [&](Seconds at) -> std::string_view {
    return axis.x(at) - kLastActivityLabel < 0 ? "start" : "end";
  };
  bool has_fault = false;
  bool has_revert = false;
  bool has_warmup = false;
  for (const TimelineMark* mark : vertical) {
    const std::string title = mark->kind + " at " + secondsWithUnit(mark->at) +
                              (mark->text.empty() ? "" : ": " + mark->text);
    if (mark->kind == "fault") {
      has_fault = true;
      verticalMarker("fault", mark->at, "#d00000", "", "fault", kTop - 6, "middle", title);
    } else if (mark->kind == "revert") {
      has_revert = true;
      verticalMarker("revert", mark->at, "#2b9348", "6 3", "revert", kTop - 6, "middle", title);
    } else if (mark->kind == "last-activity") {
      verticalMarker("last-activity", mark->at, "#6c757d", "3 3", "last activity", kTop + 10,
                     lastActivityAnchor(mark->at), title);
    } else if (mark->kind == "warmup") {
      has_warmup = true;
      verticalMarker("warmup", mark->at, "#adb5bd", "1 3", "warm-up", kTop + 10, "start", title);
    }
  }
  if (!has_fault) {
    verticalMarker("fault", Seconds{0}, "#d00000", "", "fault", kTop - 6, "middle", "fault at 0 s");
  }
  if (!has_last_activity_mark && std::isfinite(trial.last_activity.count())) {
    verticalMarker("last-activity", trial.last_activity, "#6c757d", "3 3", "last activity",
                   kTop + 10, lastActivityAnchor(trial.last_activity),
                   "last activity at " + secondsWithUnit(trial.last_activity));
  }
  legendLine("#d00000", "", 1.5, "fault");
  if (has_revert) legendLine("#2b9348", "6 3", 1.5, "revert");
  legendLine("#6c757d", "3 3", 1.5, "last activity");
  if (has_warmup) legendLine("#adb5bd", "1 3", 1.5, "warm-up");

  // Segments on the wire.
  std::vector<std::string_view> kinds_drawn;
  bool other_drawn = false;
  for (const TimelineMark* mark : wire) {
    const Glyph* known = glyphFor(mark->kind);
    const Glyph& glyph = known ? *known : kOtherGlyph;
    if (known &&
        std::find(kinds_drawn.begin(), kinds_drawn.end(), glyph.kind) == kinds_drawn.end()) {
      kinds_drawn.push_back(glyph.kind);
    }
    other_drawn = other_drawn || !known;
    const std::string title = mark->kind + " at " + secondsWithUnit(mark->at) +
                              (mark->text.empty() ? "" : ": " + mark->text);
    body += "<g class=\"mark " + htmlEscape(mark->kind) + "\">" +
            shapeSvg(glyph.shape, axis.x(mark->at), kLineY + glyph.dy, glyph.colour) + "<title>" +
            htmlEscape(title) + "</title></g>\n";
  }
  for (const Glyph& glyph : kGlyphs) {
    if (std::find(kinds_drawn.begin(), kinds_drawn.end(), glyph.kind) != kinds_drawn.end()) {
      legendItem(shapeSvg(glyph.shape, 0, 0, glyph.colour), glyph.label);
    }
  }
  if (other_drawn)
    legendItem(shapeSvg(kOtherGlyph.shape, 0, 0, kOtherGlyph.colour), kOtherGlyph.label);

  // The detections, bold, on top: green inside the window, red outside.
  bool drawn_inside = false;
  bool drawn_outside = false;
  auto detectionMarker = [&](Seconds at, const std::string& title, bool first) {
    const bool inside = has_band && at >= trial.window_earliest && at <= trial.window_latest;
    (inside ? drawn_inside : drawn_outside) = true;
    const std::string colour = inside ? "#007f5f" : "#c1121f";
    const std::string x = num(axis.x(at));
    body += "<g class=\"detection\"><line x1=\"" + x + "\" y1=\"" + num(kTop + 14) + "\" x2=\"" +
            x + "\" y2=\"" + num(kAxisY) + "\" stroke=\"" + colour +
            "\" stroke-width=\"3\"/><circle cx=\"" + x + "\" cy=\"" + num(kLineY) +
            "\" r=\"7\" fill=\"" + colour + "\" stroke=\"#fff\" stroke-width=\"1.5\"/>" +
            (first ? "<text x=\"" + x + "\" y=\"" + num(kTop + 10) +
                         "\" text-anchor=\"middle\" font-weight=\"bold\" fill=\"" + colour + "\">" +
                         htmlEscape(secondsWithUnit(at)) + "</text>"
                   : "") +
            "<title>" + htmlEscape(title) + "</title></g>\n";
  };
  bool first = true;
  for (const Detection& d : trial.detections) {
    if (!std::isfinite(d.at.count())) continue;
    detectionMarker(d.at, detectionText(d), first);
    first = false;
  }
  if (trial.detections.empty()) {
    for (const TimelineMark* mark : vertical) {
      if (mark->kind != "detected") continue;
      detectionMarker(mark->at,
                      "detected at " + secondsWithUnit(mark->at) +
                          (mark->text.empty() ? "" : ": " + mark->text),
                      first);
      first = false;
    }
  }
  if (drawn_inside)
    legendItem("<circle cx=\"0\" cy=\"0\" r=\"6\" fill=\"#007f5f\"/>", "detection (in window)");
  if (drawn_outside)
    legendItem("<circle cx=\"0\" cy=\"0\" r=\"6\" fill=\"#c1121f\"/>", "detection (outside)");

  // The legend, in rows below the axis.
  const std::size_t per_row = static_cast<std::size_t>(kPlotWidth / kLegendItem);
  std::string legend_svg = "<g class=\"legend\">";
  for (std::size_t i = 0; i < legend.size(); ++i) {
    const double x = kLeft + 6 + static_cast<double>(i % per_row) * kLegendItem;
    const double y = kLegendY + static_cast<double>(i / per_row) * kLegendRow;
    legend_svg += "<g transform=\"translate(" + num(x) + "," + num(y) + ")\">" + legend[i] + "</g>";
  }
  legend_svg += "</g>\n";
  const std::size_t rows = (legend.size() + per_row - 1) / per_row;
  const double height = kLegendY + static_cast<double>(rows) * kLegendRow;

  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" viewBox=\"0 0 " +
                    num(kWidth) + " " + num(height) + "\" width=\"" + num(kWidth) + "\" height=\"" +
                    num(height) + "\" role=\"img\" aria-label=\"timeline of trial " +
                    std::to_string(trial.trial) + "\">\n";
  svg += body;
  svg += legend_svg;
  svg += "</svg>\n";
  return svg;
}

std::string factRow(std::string_view name, const std::string& value_html) {
  return "<tr><th>" + htmlEscape(name) + "</th><td>" + value_html + "</td></tr>\n";
}

std::string trialFacts(const TrialResult& trial) {
  std::string out = "<table class=\"facts\">\n";
  std::string detections;
  for (const Detection& d : trial.detections) {
    detections += (detections.empty() ? "" : "<br/>") + htmlEscape(detectionText(d));
  }
  out += factRow("detections", detections.empty() ? "none" : detections);
  std::string window;
  if (trial.window.never) {
    window = "never" + (trial.window.reason.empty() ? "" : ": " + trial.window.reason);
  } else {
    window = secondsWithUnit(trial.window_earliest) + " to " + secondsWithUnit(trial.window_latest);
    if (trial.window.detector != Detector::kNone)
      window += " by " + std::string(detectorName(trial.window.detector));
    if (trial.window.error != 0) window += " (" + report::errnoName(trial.window.error) + ")";
    if (!trial.window.anchor_name.empty()) window += ", counted from " + trial.window.anchor_name;
    if (trial.window.probes)
      window += ", " + std::to_string(*trial.window.probes) + " probe(s) expected";
  }
  out += factRow("expected", htmlEscape(window));
  out += factRow("last activity", htmlEscape(secondsWithUnit(trial.last_activity)));
  std::string probes = std::to_string(trial.probes_seen);
  if (!trial.probe_spacing.empty()) {
    probes += ", spaced";
    for (Seconds s : trial.probe_spacing) probes += " " + report::secondsText(s);
    probes += " s";
  }
  out += factRow("probes seen", htmlEscape(probes));
  if (trial.rst_from) out += factRow("RST from", htmlEscape(*trial.rst_from));
  if (!trial.icmp_seen.empty()) {
    std::string icmp;
    for (const std::string& line : trial.icmp_seen)
      icmp += (icmp.empty() ? "" : "<br/>") + htmlEscape(line);
    out += factRow("ICMP", icmp);
  }
  out += factRow("false positives", std::to_string(trial.false_positives));
  if (trial.quality) out += factRow("quality", htmlEscape(qualityText(*trial.quality)));
  out += factRow("time", htmlEscape("protocol " + secondsWithUnit(trial.protocol) + ", overhead " +
                                    secondsWithUnit(trial.overhead)));
  out += "</table>\n";
  return out;
}

std::string trialSection(const TrialResult& trial) {
  std::string title = "trial " + std::to_string(trial.trial);
  if (const std::string family = familyName(trial.family); !family.empty())
    title += " (" + family + ")";
  std::string out = "<div class=\"trial\">\n<h3>" + htmlEscape(title) + " " +
                    (trial.passed ? "<span class=\"verdict pass\">passed</span>"
                                  : "<span class=\"verdict fail\">failed</span>") +
                    "</h3>\n";
  if (!trial.failures.empty()) {
    out += "<ul class=\"failures\">\n";
    for (const std::string& failure : trial.failures)
      out += "<li>" + htmlEscape(failure) + "</li>\n";
    out += "</ul>\n";
  }
  out += timelineSvg(trial);
  out += trialFacts(trial);
  if (!trial.window.reasoning.empty()) {
    out += "<details><summary>oracle reasoning</summary><ol>\n";
    for (const std::string& step : trial.window.reasoning)
      out += "<li>" + htmlEscape(step) + "</li>\n";
    out += "</ol></details>\n";
  }
  if (!trial.events.empty()) {
    const std::optional<Event::Clock::time_point> zero = report::faultTime(trial);
    out += "<details><summary>events (" + std::to_string(trial.events.size()) + ")</summary><pre>";
    for (const Event& e : trial.events) {
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
  }
  out += "</div>\n";
  return out;
}

// Trials that are not drawn still get a line each.
std::string trialList(const ScenarioResult& result) {
  std::string out =
      "<table class=\"trials\"><tr><th>trial</th><th>verdict</th><th>detections</th>"
      "<th>failures</th></tr>\n";
  for (const TrialResult& trial : result.trials) {
    std::string detections;
    for (const Detection& d : trial.detections)
      detections += (detections.empty() ? "" : ", ") + secondsWithUnit(d.at);
    std::string failures;
    for (const std::string& f : trial.failures) failures += (failures.empty() ? "" : "; ") + f;
    out += "<tr><td>" + std::to_string(trial.trial) + "</td><td>" +
           (trial.passed ? "passed" : "failed") + "</td><td>" +
           htmlEscape(detections.empty() ? "none" : detections) + "</td><td>" +
           htmlEscape(failures) + "</td></tr>\n";
  }
  out += "</table>\n";
  return out;
}

std::string measuredCell(const ScenarioResult& result, Seconds Percentiles::*field) {
  return result.detection ? secondsWithUnit((*result.detection).*field) : "-";
}

std::string summaryTable(const std::vector<ScenarioResult>& results) {
  std::string out =
      "<table class=\"summary\">\n<tr><th>scenario</th><th>detector</th><th>fault</th>"
      "<th>expected</th><th>p50</th><th>p99</th><th>verdict</th></tr>\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const ScenarioResult& r = results[i];
    out += "<tr><td><a href=\"#r" + std::to_string(i) + "\">" + htmlEscape(r.name) +
           "</a></td><td>" + htmlEscape(r.detector) + "</td><td>" + htmlEscape(r.fault) +
           "</td><td class=\"num\">" + htmlEscape(report::windowText(r)) +
           "</td><td class=\"num\">" + htmlEscape(measuredCell(r, &Percentiles::p50)) +
           "</td><td class=\"num\">" + htmlEscape(measuredCell(r, &Percentiles::p99)) +
           "</td><td>" + verdictBadge(r.verdict) + "</td></tr>\n";
  }
  out += "</table>\n";
  return out;
}

std::string resultSection(const ScenarioResult& result, std::size_t index) {
  std::string out = "<section id=\"r" + std::to_string(index) + "\" class=\"result " +
                    report::verdictKey(result.verdict) + "\">\n<h2>" + verdictBadge(result.verdict) +
                    " " + htmlEscape(result.name) + "</h2>\n";
  if (!result.reason.empty()) out += "<p class=\"reason\">" + htmlEscape(result.reason) + "</p>\n";
  out += "<table class=\"facts\">\n";
  if (!result.file.empty()) out += factRow("file", htmlEscape(result.file));
  out += factRow("detector", htmlEscape(result.detector));
  out += factRow("fault", htmlEscape(result.fault));
  if (const std::string family = familyName(result.family); !family.empty())
    out += factRow("family", family);
  out += factRow("expected", htmlEscape(report::windowText(result)));
  if (result.detection) {
    out += factRow("measured",
                   htmlEscape("p50 " + secondsWithUnit(result.detection->p50) + ", p99 " +
                              secondsWithUnit(result.detection->p99) + ", max " +
                              secondsWithUnit(result.detection->max) + " over " +
                              std::to_string(result.detection->samples) + " detection(s)"));
  }
  if (result.quality) out += factRow("quality", htmlEscape(qualityText(*result.quality)));
  out += factRow("trials", std::to_string(result.trials.size()));
  out += factRow("wall time", htmlEscape(secondsWithUnit(result.wall)));
  if (!result.pcap_files.empty()) {
    std::string files;
    for (const std::string& f : result.pcap_files)
      files += (files.empty() ? "" : "<br/>") + htmlEscape(f);
    out += factRow("pcap files", files);
  }
  out += "</table>\n";

  const std::size_t drawn = result.trials.size() <= kMaxDrawnTrials ? result.trials.size() : 1;
  for (std::size_t i = 0; i < drawn; ++i) out += trialSection(result.trials[i]);
  if (drawn < result.trials.size()) {
    out += "<p class=\"note\">Trial " + std::to_string(result.trials.front().trial) +
           " is drawn; all " + std::to_string(result.trials.size()) + " trials:</p>\n" +
           trialList(result);
  }
  out += "</section>\n";
  return out;
}

constexpr std::string_view kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; color: #212529; margin: 1.5em auto; max-width: 1000px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.2em; border-top: 1px solid #dee2e6; padding-top: 1em; margin-top: 2em; }
h3 { font-size: 1em; margin: 1.2em 0 0.4em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { text-align: left; padding: 0.2em 0.8em 0.2em 0; vertical-align: top; }
table.summary th, table.trials th { border-bottom: 1px solid #adb5bd; }
table.summary td, table.trials td { border-bottom: 1px solid #f1f3f5; }
table.facts th { font-weight: normal; color: #6c757d; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: bold; padding: 0 0.4em; border-radius: 3px; color: #fff; }
.verdict.pass { background: #2b9348; }
.verdict.fail { background: #c1121f; }
.verdict.skip { background: #6c757d; }
.verdict.error { background: #e85d04; }
.reason { font-weight: bold; }
.failures { color: #c1121f; }
.note { color: #6c757d; }
svg.timeline { display: block; max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.timeline text { fill: #343a40; }
svg.timeline .note { fill: #6c757d; font-style: italic; }
pre { font-size: 12px; background: #f8f9fa; padding: 0.5em; overflow-x: auto; }
a { color: #1f6fd1; }
)";

}  // namespace

std::string html(const std::vector<ScenarioResult>& results) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<title>deadpeer results</title>\n<style>";
  out += kStyle;
  out += "</style>\n</head>\n<body>\n<h1>deadpeer results</h1>\n";
  out += "<p class=\"counts\">" + htmlEscape(report::countsText(report::count(results))) + "</p>\n";
  out += summaryTable(results);
  for (std::size_t i = 0; i < results.size(); ++i) out += resultSection(results[i], i);
  out += "</body>\n</html>\n";
  return out;
}

void writeHtml(const std::vector<ScenarioResult>& results, const std::filesystem::path& file) {
  report::writeFile(file, html(results));
}

}  // namespace deadpeer
