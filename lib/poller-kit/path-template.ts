// Path templates (`aws.{region}.{metric}`): a poller fills them into path nodes, which the sink then sanitizes.

const PLACEHOLDER = /\{([A-Za-z0-9_.-]+)\}/g;

/**
 * Fills a path template such as `aws.{region}.{dim.LoadBalancer}.{metric}`: the template's own dots separate
 * nodes; each placeholder's value becomes part of its node and is sanitized with it, so a value that holds
 * dots or spaces never adds a node. A placeholder whose value is a list (`{dimensions}`) expands to one node
 * per item. Unknown placeholders throw, naming the template (a configuration error the runner reports).
 */
export function renderPathTemplate(template: string, values: Readonly<Record<string, string | readonly string[]>>): string[] {
  const out: string[] = [];
  // Dots inside a placeholder ({dim.LoadBalancer}) name it; only the template's own dots separate nodes.
  for (const part of template.split(/\.(?![^{}]*\})/)) {
    const whole = /^\{([A-Za-z0-9_.-]+)\}$/.exec(part);
    const listValue = whole ? values[whole[1]!] : undefined;
    if (whole && Array.isArray(listValue)) {
      out.push(...listValue);
      continue;
    }
    out.push(
      part.replace(PLACEHOLDER, (_, name: string) => {
        const value = values[name];
        if (value === undefined) throw new Error(`unknown placeholder {${name}} in path template "${template}"`);
        return Array.isArray(value) ? value.join('_') : (value as string);
      }),
    );
  }
  return out;
}

/** The placeholders a template uses (for validating a template at config time). */
export function templatePlaceholders(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)].map((m) => m[1]!);
}
