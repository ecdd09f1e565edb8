// The shape rules of builder/ (docs/architecture.md), checked in `npm run lint`:
//   - no module over 300 lines and no function over 80 lines, unless a `// shape:` comment at
//     the top of the module (or just above the function) says why;
//   - no import cycle among builder's modules (type-only imports do not count: they vanish
//     when compiled).
// Prints each breach as file:line and exits 1 when there is one.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

const MODULE_LINES = 300;
const FUNCTION_LINES = 80;
const root = path.resolve(import.meta.dirname, "..");
const builder = path.join(root, "builder");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sources(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

const problems: string[] = [];
const imports = new Map<string, string[]>();

for (const file of sources(builder)) {
  const text = readFileSync(file, "utf8");
  const rel = path.relative(root, file);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const lines = text.split("\n").length;
  const header = text.split("\n").slice(0, 15).join("\n");
  if (lines > MODULE_LINES && !/\/\/ shape:/.test(header)) {
    problems.push(
      `${rel}: ${lines} lines (over ${MODULE_LINES}: split it, or say why in a "// shape:" comment at the top)`,
    );
  }
  const lineOf = (pos: number) => source.getLineAndCharacterOfPosition(pos).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const length = lineOf(node.body.getEnd()) - lineOf(node.body.getStart()) + 1;
      const leading = text.slice(Math.max(0, node.getFullStart() - 400), node.getStart());
      const statement =
        node.parent && ts.isVariableDeclaration(node.parent) ? node.parent.parent.parent : node;
      const above = text.slice(Math.max(0, statement.getFullStart() - 400), statement.getStart());
      if (length > FUNCTION_LINES && !/\/\/ shape:/.test(leading + above)) {
        const name = (node as ts.FunctionDeclaration).name?.getText() ?? "a function";
        problems.push(
          `${rel}:${lineOf(node.getStart())}: ${name} is ${length} lines (over ${FUNCTION_LINES}: split it, or say why in a "// shape:" comment above it)`,
        );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  const targets: string[] = [];
  for (const statement of source.statements) {
    const isImport = ts.isImportDeclaration(statement) && !statement.importClause?.isTypeOnly;
    const isExport = ts.isExportDeclaration(statement) && !statement.isTypeOnly;
    if (!isImport && !isExport) continue;
    const specifier = (statement.moduleSpecifier as ts.StringLiteral | undefined)?.text;
    if (!specifier?.startsWith(".")) continue;
    // An import of types only (every named binding `type …`) is erased too.
    const clause = ts.isImportDeclaration(statement) ? statement.importClause : undefined;
    const named = clause?.namedBindings;
    if (
      clause &&
      !clause.name &&
      named &&
      ts.isNamedImports(named) &&
      named.elements.every((e) => e.isTypeOnly)
    )
      continue;
    targets.push(path.resolve(path.dirname(file), specifier));
  }
  imports.set(file, targets);
}

// Import cycles: depth-first search, reporting each cycle once.
const state = new Map<string, "open" | "done">();
const seen = new Set<string>();
const walk = (file: string, trail: string[]): void => {
  if (state.get(file) === "done") return;
  if (state.get(file) === "open") {
    const cycle = [...trail.slice(trail.indexOf(file)), file].map((f) => path.relative(root, f));
    const id = [...cycle.slice(0, -1)].sort().join(" ");
    if (!seen.has(id)) problems.push(`import cycle: ${cycle.join(" → ")}`);
    seen.add(id);
    return;
  }
  state.set(file, "open");
  for (const next of imports.get(file) ?? []) walk(next, [...trail, file]);
  state.set(file, "done");
};
for (const file of imports.keys()) walk(file, []);

if (problems.length > 0) {
  process.stderr.write(`${problems.join("\n")}\n${problems.length} shape problem(s) in builder/\n`);
  process.exit(1);
}
process.stdout.write(`builder/: ${imports.size} modules, shapes and imports ok\n`);
