package server_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/stewardhq/steward/server"
	"github.com/stewardhq/steward/server/servertest"
)

// fxDeepAccount is a query `levels` fields deep: accounts > edges > node > contacts > edges >
// node > account > contacts > ..., every page of one, so that only its depth is large.
func fxDeepAccount(levels int) string {
	// Each step adds one level; leaf is a scalar of the type the step leads to.
	steps := []struct{ field, leaf string }{
		{"contacts(first: 1)", "totalCount"}, {"edges", "cursor"}, {"node", "id"}, {"account", "id"},
	}
	var open, close strings.Builder
	open.WriteString("{ accounts(first: 1) { edges { node { ")
	leaf := "id"
	for depth, i := 3, 0; depth < levels-1; depth, i = depth+1, i+1 {
		step := steps[i%len(steps)]
		open.WriteString(step.field + " { ")
		close.WriteString("} ")
		leaf = step.leaf
	}
	return open.String() + leaf + " " + close.String() + "} } } }"
}

func TestDepthLimit(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	acme := f.createAccount(map[string]any{"name": "Acme"})
	f.createContact(acme.ID, "Ana", "ana@acme.example")

	t.Run("depth is counted exactly", func(t *testing.T) {
		e := fxRequireError(t, f.do(fxDeepAccount(13), nil), "DEPTH_LIMIT_EXCEEDED", "")
		require.Contains(t, e.Message, "nested 13 levels deep")
	})

	t.Run("up to 12 levels run", func(t *testing.T) {
		for levels := 10; levels <= 12; levels++ {
			resp := f.do(fxDeepAccount(levels), nil)
			require.Empty(t, resp.Errors, "%d levels: %s", levels, fxDeepAccount(levels))
			require.Contains(t, string(resp.Data), `"contacts"`)
		}
	})

	refused := map[string]string{
		"13 levels": fxDeepAccount(13),
		"20 levels": fxDeepAccount(20),
		"named fragments": `
			{ accounts(first: 1) { edges { node { ...A } } } }
			fragment A on Account { contacts(first: 1) { edges { node { ...C } } } }
			fragment C on Contact { account { contacts(first: 1) { edges { node { ...D } } } } }
			fragment D on Contact { account { owner { id } } }`,
		"a fragment spread many times at the bottom": `
			{ accounts(first: 1) { edges { node { contacts(first: 1) { edges { node { account { contacts(first: 1) {
				edges { node { ...Deep } } } } } } } } } } }
			fragment Deep on Contact { account { owner { id } } }`,
		"inline fragments": `{
			accounts(first: 1) {
				edges {
					node {
						... on Account {
							contacts(first: 1) {
								edges {
									... {
										node {
											account {
												... on Account {
													contacts(first: 1) {
														edges {
															node {
																... on Contact { account { owner { id } } }
															}
														}
													}
												}
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}`,
		"node with inline fragments": `query($id: ID!) { node(id: $id) { ... on Account { contacts(first: 1) { edges { node { account {
				contacts(first: 1) { edges { node { account { contacts(first: 1) { edges { node { account { owner { id } } } } } } } } } } } } } } } }`,
	}
	for name, query := range refused {
		t.Run(name, func(t *testing.T) {
			e := fxRequireError(t, f.do(query, map[string]any{"id": acme.ID}), "DEPTH_LIMIT_EXCEEDED", "")
			require.Contains(t, e.Message, "12")
		})
	}

	t.Run("a refused mutation does not run", func(t *testing.T) {
		before := f.state()
		resp := f.do(`mutation { createAccount(input: {name: "Too deep"}) { contacts(first: 1) { edges { node { account {
			contacts(first: 1) { edges { node { account { contacts(first: 1) { edges { node { account { owner { id } } } } } } } } } } } } } } }`, nil)
		fxRequireError(t, resp, "DEPTH_LIMIT_EXCEEDED", "")
		f.requireUnchanged(before)
	})

	t.Run("a fragment cycle is refused, not followed", func(t *testing.T) {
		resp := f.do(`{ accounts { edges { node { ...A } } } }
			fragment A on Account { contacts { edges { node { account { ...A } } } } }`, nil)
		fxRequireError(t, resp, "GRAPHQL_VALIDATION_FAILED", "")
	})
}

// fxAliases repeats field under n aliases.
func fxAliases(n int, field string) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range n {
		fmt.Fprintf(&b, "a%d: %s ", i, field)
	}
	b.WriteString("}")
	return b.String()
}

func TestComplexityLimit(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	acme := f.createAccount(map[string]any{"name": "Acme"})
	f.createContact(acme.ID, "Ana", "ana@acme.example")

	t.Run("a costly query below the limit runs", func(t *testing.T) {
		// 1 + 100 × (1 + 1 + (1 + 50 × (1 + 1 + 1))) = 15,301.
		resp := f.do(`{ accounts(first: 100) { edges { node { contacts(first: 50) { edges { node { id } } } } } } }`, nil)
		require.Empty(t, resp.Errors)
	})

	refused := map[string]string{
		"just over the limit": `{ accounts(first: 100) { edges { node { contacts(first: 70) { edges { node { id } } } } } } }`,
		"nested pages": `{ accounts(first: 100) { edges { node { contacts(first: 100) { edges { node { account {
			contacts(first: 100) { edges { node { id } } } } } } } } } } }`,
		"nested pages in named fragments": `
			{ accounts(first: 100) { ...Page } }
			fragment Page on AccountConnection { edges { node { ...Acc } } }
			fragment Acc on Account { contacts(first: 100) { edges { node { ...Con } } } }
			fragment Con on Contact { account { contacts(first: 100) { edges { node { id } } } } }`,
		"nested pages in inline fragments": `{
			accounts(first: 100) {
				... on AccountConnection {
					edges {
						node {
							... on Account {
								contacts(first: 100) {
									edges {
										... {
											node {
												account {
													... on Account { contacts(first: 100) { edges { node { id } } } }
												}
											}
										}
									}
								}
							}
						}
					}
				}
			}
		}`,
		// 1 + 20 × (1 + 1 + (1 + 20 × (1 + 1 + (1 + 1 + (1 + 20 × 3))))) = 25,661, within the depth limit.
		"default page sizes add up": `{ accounts { edges { node { contacts { edges { node { account {
			contacts { edges { node { id } } } } } } } } } } }`,
		"many aliases of a cheap list": fxAliases(2000, "users { id }"), // 2,000 × (1 + 10 × 1)
		"many aliases of a page":       fxAliases(200, "accounts(first: 100) { totalCount }"),
	}
	for name, query := range refused {
		t.Run(name, func(t *testing.T) {
			e := fxRequireError(t, f.do(query, nil), "COMPLEXITY_LIMIT_EXCEEDED", "")
			require.Contains(t, e.Message, "20000")
		})
	}

	t.Run("a refused mutation does not run", func(t *testing.T) {
		before := f.state()
		resp := f.do(`mutation { createAccount(input: {name: "Costly"}) { contacts(first: 100) { edges { node { account {
			contacts(first: 100) { edges { node { id } } } } } } } } }`, nil)
		fxRequireError(t, resp, "COMPLEXITY_LIMIT_EXCEEDED", "")
		f.requireUnchanged(before)
	})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	body := func(padding int) []byte {
		b, err := json.Marshal(map[string]any{
			"query":     `mutation($in: CreateAccountInput!) { createAccount(input: $in) { id } }`,
			"variables": map[string]any{"in": map[string]any{"name": "Padded"}, "padding": strings.Repeat("x", padding)},
		})
		require.NoError(t, err)
		return b
	}
	post := func(t *testing.T, r io.Reader) (int, servertest.Response) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, f.env.URL+"/graphql", r)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := f.env.Server.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		var out servertest.Response
		require.NoError(t, json.Unmarshal(raw, &out), "a GraphQL-shaped body: %s", raw)
		return resp.StatusCode, out
	}
	requireRefused := func(t *testing.T, status int, resp servertest.Response) {
		t.Helper()
		require.GreaterOrEqual(t, status, 400)
		require.Less(t, status, 500)
		require.NotEmpty(t, resp.Errors)
		require.NotEmpty(t, resp.Errors[0].Message)
		fxRequireNoAccountNamed(t, f, "Padded")
	}

	t.Run("over 1 MiB with a length", func(t *testing.T) {
		b := body(server.DefaultMaxBodyBytes)
		status, resp := post(t, strings.NewReader(string(b)))
		require.Equal(t, http.StatusRequestEntityTooLarge, status)
		requireRefused(t, status, resp)
	})

	t.Run("over 1 MiB chunked", func(t *testing.T) {
		b := body(server.DefaultMaxBodyBytes)
		// A reader of unknown length makes the client send the body chunked.
		status, resp := post(t, io.MultiReader(strings.NewReader(string(b))))
		requireRefused(t, status, resp)
	})

	t.Run("just under 1 MiB runs", func(t *testing.T) {
		b := body(server.DefaultMaxBodyBytes - 1024)
		require.Less(t, len(b), server.DefaultMaxBodyBytes)
		status, resp := post(t, io.MultiReader(strings.NewReader(string(b))))
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, resp.Errors)
		require.Len(t, f.accountIDs(), 1)
	})
}

// fxRequireNoAccountNamed asserts the workspace has no account called name.
func fxRequireNoAccountNamed(t *testing.T, f *fx, name string) {
	t.Helper()
	for _, a := range f.state().Accounts {
		require.NotEqual(t, name, a.Name, "an account was created")
	}
}

func TestParserTokenLimit(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	// `aN: __typename` is three tokens.
	resp := f.do(fxAliases(6_667, "__typename"), nil) // 20,003 tokens
	e := fxRequireError(t, resp, "GRAPHQL_PARSE_FAILED", "")
	require.Contains(t, e.Message, "token limit")

	resp = f.do(fxAliases(3_000, "__typename"), nil) // 9,002 tokens
	require.Empty(t, resp.Errors)
}

func TestIntrospectionAndSuggestionsOnlyInDev(t *testing.T) {
	t.Parallel()
	dev := newFx(t)
	prod := newFx(t, servertest.WithConfig(func(c *server.Config) { c.Dev = false }))
	const schemaOp = `{ __schema { queryType { name } types { name } } }`
	const typeOp = `{ __type(name: "Account") { fields { name } } }`

	t.Run("dev answers introspection", func(t *testing.T) {
		var out struct {
			Schema struct {
				QueryType struct{ Name string } `json:"queryType"`
				Types     []struct{ Name string }
			} `json:"__schema"`
		}
		dev.do(schemaOp, nil).Decode(t, &out)
		require.Equal(t, "Query", out.Schema.QueryType.Name)
		require.NotEmpty(t, out.Schema.Types)
		resp := dev.do(typeOp, nil)
		require.Empty(t, resp.Errors)
		require.Contains(t, string(resp.Data), "renewalDate")
	})

	t.Run("production refuses introspection", func(t *testing.T) {
		for _, op := range []string{schemaOp, typeOp} {
			resp := prod.do(op, nil)
			require.NotEmpty(t, resp.Errors, op)
			require.NotContains(t, string(resp.Data), "Query", op)
			require.NotContains(t, string(resp.Data), "renewalDate", op)
			for _, e := range resp.Errors {
				require.NotContains(t, e.Message, "renewalDate")
			}
		}
		// __typename is not introspection of the schema and still works.
		var out struct {
			Typename string `json:"__typename"`
		}
		prod.do(`{ __typename }`, nil).Decode(t, &out)
		require.Equal(t, "Query", out.Typename)
	})

	// gqlparser leaves suggestions on in its other rules (argument names, enum values, input
	// fields, type names) whatever the setting; only field suggestions are tested here.
	suggest := map[string]string{
		"a root field":   `{ acounts { totalCount } }`,
		"a nested field": `{ accounts { edges { node { contacts { edges { node { emial } } } } } } }`,
		"a field":        `{ accounts { edges { node { nmae } } } }`,
	}
	for name, op := range suggest {
		t.Run("suggestions for "+name, func(t *testing.T) {
			resp := dev.do(op, nil)
			fxRequireError(t, resp, "GRAPHQL_VALIDATION_FAILED", "")
			require.Contains(t, resp.Errors[0].Message, "Did you mean", "dev suggests")

			resp = prod.do(op, nil)
			fxRequireError(t, resp, "GRAPHQL_VALIDATION_FAILED", "")
			require.NotContains(t, resp.Errors[0].Message, "Did you mean", "production does not suggest")
		})
	}
}

func TestPersistedQueriesAndGET(t *testing.T) {
	t.Parallel()
	f := newFx(t)
	query := `{ me { role } }`
	sum := sha256.Sum256([]byte(query))
	hash := hex.EncodeToString(sum[:])
	apq := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hash}}
	post := func(body map[string]any) *servertest.Response {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		return f.env.DoRaw(t, f.token, b)
	}
	get := func(t *testing.T, params url.Values) (int, servertest.Response) {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, f.env.URL+"/graphql?"+params.Encode(), nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := f.env.Server.Client().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out servertest.Response
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	var me struct {
		Me struct {
			Role string `json:"role"`
		} `json:"me"`
	}

	t.Run("APQ", func(t *testing.T) {
		resp := post(map[string]any{"extensions": apq})
		require.Len(t, resp.Errors, 1)
		require.Equal(t, "PersistedQueryNotFound", resp.Errors[0].Message)
		require.Equal(t, "PERSISTED_QUERY_NOT_FOUND", resp.Code())

		resp = post(map[string]any{"extensions": apq, "query": `{ users { id } }`})
		require.NotEmpty(t, resp.Errors, "a query that does not match its hash is refused")
		require.Equal(t, "PersistedQueryNotFound", post(map[string]any{"extensions": apq}).Errors[0].Message, "and not registered")

		post(map[string]any{"extensions": apq, "query": query}).Decode(t, &me)
		require.Equal(t, "ADMIN", me.Me.Role)

		post(map[string]any{"extensions": apq}).Decode(t, &me)
		require.Equal(t, "ADMIN", me.Me.Role, "the hash alone now works")

		ext, err := json.Marshal(apq)
		require.NoError(t, err)
		status, out := get(t, url.Values{"extensions": {string(ext)}})
		require.Equal(t, http.StatusOK, status)
		out.Decode(t, &me)
		require.Equal(t, "ADMIN", me.Me.Role, "and over GET")
	})

	t.Run("GET runs a query", func(t *testing.T) {
		status, out := get(t, url.Values{"query": {query}})
		require.Equal(t, http.StatusOK, status)
		out.Decode(t, &me)
		require.Equal(t, "ADMIN", me.Me.Role)

		status, out = get(t, url.Values{"query": {`query($n: String) { accounts(filter: {search: $n}) { totalCount } }`}, "variables": {`{"n":"x"}`}})
		require.Equal(t, http.StatusOK, status)
		require.Empty(t, out.Errors)
	})

	t.Run("GET refuses a mutation", func(t *testing.T) {
		before := f.state()
		status, out := get(t, url.Values{"query": {`mutation { createAccount(input: {name: "Via GET"}) { id } }`}})
		require.GreaterOrEqual(t, status, 400)
		require.Less(t, status, 500)
		require.NotEmpty(t, out.Errors)
		f.requireUnchanged(before)
	})
}
