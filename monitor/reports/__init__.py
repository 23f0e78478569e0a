"""SLA reports: built from the stored waits, rendered as PDF/HTML/CSV/JSON, delivered on schedules.

Modules: `period` (which days), `build` (the figures, from `monitor.store.reports`), `model`,
`render` (pdf, html, tabular, charts, i18n), `deliver` (directory, Slack, email), `settings`
(the `[[reports]]` configuration) and `schedule` (the runner). Importing this package is cheap:
`monitor.config` imports `settings`; matplotlib and reportlab load only when a report renders.
"""
