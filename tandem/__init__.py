"""The project: what composes the apps into one site.

`tandem.site` puts the process apps' pages and flows into viewflow's Site and
`tandem.urls` mounts it with the admin and the account pages. The engine
(`workflow/`) and the reference data (`contacts/`) never import a process app; this
package may import them all.
"""
