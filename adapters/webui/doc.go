// Package webui serves the server-rendered pages a member sees in a
// browser: today the login page of the authorization code flow. It asks
// core/login which steps a login needs and hands the result to core/authz;
// it decides nothing itself. Every word on its pages comes from the message
// catalog, in the language of the browser's Accept-Language (German by
// default).
//
// Layer: adapter. Imports: core, ports, catalog, standard library; never another adapter.
package webui
