// Parse Mermaid blocks with Mermaid itself, the way GitHub's renderer reads them.
//
// stdin: a JSON list of diagram texts. stdout: a JSON list, one entry per text:
//   {ok: true, type, config, plots: [{title, values}], yRange: [min, max]}   (xychart data)
//   {ok: false, error}
// Mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom provides the window
// before Mermaid is imported, since DOMPurify binds to the global window when loaded.
import { JSDOM } from "jsdom";

const dom = new JSDOM("<!doctype html><html><body></body></html>", { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.DOMParser = dom.window.DOMParser;
globalThis.Element = dom.window.Element;
globalThis.HTMLElement = dom.window.HTMLElement;
globalThis.Node = dom.window.Node;

const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

function xyData(diagram) {
  const db = diagram.db;
  if (typeof db.getXYChartData !== "function") return {};
  const data = db.getXYChartData();
  return {
    plots: data.plots.map((plot) => ({ type: plot.type, title: plot.title, values: plot.data.map((p) => p[1]) })),
    categories: data.xAxis.categories ?? null,
    yRange: data.yAxis.type === "linear" ? [data.yAxis.min, data.yAxis.max] : null,
    chartConfig: db.getChartConfig(),
    palette: db.getChartThemeConfig().plotColorPalette,
  };
}

const texts = JSON.parse(await readStdin());
const results = [];
for (const text of texts) {
  try {
    const parsed = await mermaid.parse(text);
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    results.push({ ok: true, type: parsed.diagramType, config: parsed.config ?? {}, ...xyData(diagram) });
  } catch (error) {
    results.push({ ok: false, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(results));
