// Templates (issue 18): send() with a stored template (rendered at enqueue: one store read for
// the latest version, the compiled template cached, Liquid rendering, text made from the HTML)
// against send() of the same rendered message given directly, in alternating runs on one
// Outbox. No worker runs.
import { createOutbox } from '../dist/index.js'
import { alternatingPairs, now, percentile, progress, summarize } from './common.mjs'

/** A receipt as shops send them: a greeting, a loop over lines, numbers and a date. */
const RECEIPT = {
  subject: 'Your order {{ order.number }}, {{ name }}',
  html: `<html><body>
<p>Hello {{ name }},</p>
<p>thank you for your order of {{ order.date | format_date: 'long' }}:</p>
<table>
{% for line in order.lines %}<tr><td>{{ line.title }}</td><td>{{ line.quantity }}</td><td>{{ line.price | format_currency: 'EUR' }}</td></tr>
{% endfor %}</table>
<p>Total: <b>{{ order.total | format_currency: 'EUR' }}</b></p>
<p>Questions? Answer this mail.</p>
</body></html>`,
  text: null,
}

function context(i) {
  const lines = Array.from({ length: 5 }, (_, k) => ({
    title: `Article ${k} <${i}>`,
    quantity: k + 1,
    price: 9.5 * (k + 1),
  }))
  return {
    name: `Customer ${i}`,
    order: {
      number: 10_000 + i,
      date: '2026-12-03T10:00:00Z',
      lines,
      total: lines.reduce((sum, l) => sum + l.price * l.quantity, 0),
    },
  }
}

/** Alternating runs of `count` sends each: with the template, and with its rendering given. */
export async function benchTemplates({ kind, url, sizes, repeats }) {
  const count = sizes.enqueueCount
  const outbox = await createOutbox({ store: await url(), upstream: 'capture' })
  try {
    await outbox.admin.templates.put('receipt', 'en', RECEIPT)
    const templated = (i) => ({
      template: 'receipt',
      language: 'en',
      context: context(i),
      from: 'shop@example.com',
      to: `customer${i}@example.org`,
    })
    // The same messages, rendered beforehand (not timed): what a caller sends without templates.
    const rendered = []
    for (let i = 0; i < count; i++) {
      const r = await outbox.admin.templates.render({
        name: 'receipt',
        language: 'en',
        context: context(i),
      })
      rendered.push({
        from: 'shop@example.com',
        to: `customer${i}@example.org`,
        subject: r.subject,
        html: r.html,
        text: r.text,
      })
    }
    // Warm up both paths.
    for (let i = 0; i < 100; i++) {
      await outbox.send(templated(i))
      await outbox.send(rendered[i])
    }
    const { runs, pairs } = await alternatingPairs(repeats, {
      async run(which) {
        const latencies = []
        const started = now()
        for (let i = 0; i < count; i++) {
          const t = now()
          await outbox.send(which === 'outbox' ? templated(i) : rendered[i])
          latencies.push(now() - t)
        }
        const seconds = (now() - started) / 1000
        return {
          rate: count / seconds,
          p50: percentile(latencies, 50),
          p99: percentile(latencies, 99),
        }
      },
      report(which, r, i) {
        progress(
          `templates ${kind} run ${i + 1} ${which === 'outbox' ? 'with a template' : 'rendered beforehand'}: ${Math.round(r.rate)}/s, p50 ${r.p50.toFixed(2)} ms`,
        )
      },
    })
    const side = (list) => ({
      rate: summarize(list.map((r) => r.rate)),
      p50Ms: summarize(list.map((r) => r.p50)),
      p99Ms: summarize(list.map((r) => r.p99)),
    })
    return {
      messagesPerRun: count,
      withTemplate: side(runs.outbox),
      without: side(runs.direct),
      ratio: summarize(pairs.map((p) => p.outbox.rate / p.direct.rate)),
    }
  } finally {
    await outbox.close()
  }
}
