/** A plain-text table for terminals and logs; cells are cut so one hostile value cannot flood a line. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[], maxCell = 60): string {
  const cut = (s: string) => {
    const clean = s.replace(/[\u0000-\u001f\u007f]/g, " ");
    return clean.length > maxCell ? `${clean.slice(0, maxCell - 1)}…` : clean;
  };
  const cells = [headers.map(cut), ...rows.map((r) => r.map(cut))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  ").trimEnd();
  return [line(cells[0] ?? []), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

/** Live progress: one rewritten line on a terminal, plain lines otherwise (CI logs, pipes). */
export function progressReporter(stream: NodeJS.WriteStream, label: string) {
  const tty = Boolean(stream.isTTY);
  let last = 0;
  return {
    update(done: number, total: number, detail = "") {
      if (tty) {
        stream.write(`\r\x1b[2K${label}: ${done}/${total} ${detail}`.slice(0, (stream.columns || 120) + 8));
      } else if (done === total || done - last >= Math.max(1, Math.ceil(total / 10))) {
        last = done;
        stream.write(`${label}: ${done}/${total}${detail ? ` ${detail}` : ""}\n`);
      }
    },
    end() {
      if (tty) stream.write("\n");
    },
  };
}
