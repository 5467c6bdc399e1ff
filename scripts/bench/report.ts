/** The benchmark's outputs: a console table, BENCHMARKS.md and an SVG bar chart. */
import Table from 'cli-table3';

export interface Figure {
  name: string;
  value: string;
  note: string;
}

export function printTable(figures: Figure[]): void {
  const table = new Table({ head: ['figure', 'value', 'how'] });
  for (const f of figures) table.push([f.name, f.value, f.note]);
  console.log(table.toString());
}

export function markdown(title: string, preface: string[], figures: Figure[], chartPath: string): string {
  const rows = figures.map((f) => `| ${f.name} | ${f.value} | ${f.note} |`);
  return [
    `# ${title}`,
    '',
    ...preface,
    '',
    '| figure | value | how it was measured |',
    '| --- | --- | --- |',
    ...rows,
    '',
    `![wall-clock and overhead](${chartPath})`,
    '',
  ].join('\n');
}

export interface Bar {
  label: string;
  value: number;
}

/** Two small horizontal bar groups in one SVG; plain markup, nothing to install. */
export function barChart(groups: { title: string; unit: string; bars: Bar[] }[]): string {
  const width = 640;
  const barHeight = 22;
  const labelWidth = 190;
  let y = 10;
  const parts: string[] = [];
  for (const group of groups) {
    parts.push(`<text x="10" y="${y + 14}" font-weight="bold">${group.title}</text>`);
    y += 24;
    const max = Math.max(...group.bars.map((b) => b.value), 1e-9);
    for (const bar of group.bars) {
      const length = Math.max(1, ((width - labelWidth - 90) * bar.value) / max);
      parts.push(
        `<text x="10" y="${y + 15}">${bar.label}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${length.toFixed(1)}" height="${barHeight - 4}" fill="#4f7cac"/>`,
        `<text x="${labelWidth + length + 6}" y="${y + 15}">${bar.value.toFixed(group.unit === 's' ? 2 : 1)} ${group.unit}</text>`,
      );
      y += barHeight;
    }
    y += 16;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="13">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}
