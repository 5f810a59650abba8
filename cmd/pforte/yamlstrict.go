package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// decodeStrict decodes the YAML document data into v (a pointer to a struct
// with yaml tags). Unknown keys, duplicate keys and values of the wrong type
// are errors, because a mistyped security setting that is silently ignored
// leaves the default in force without anyone noticing. Errors name the
// dotted key ("tokens.code_ttl", "clients[2].redirect_uris") and the line,
// so that the one message an operator sees says where to look.
func decodeStrict(data []byte, v any) (err error) {
	// The YAML library panics on some malformed documents (a tagged value
	// where a sequence belongs: found by fuzzing the clients file). A file
	// an operator hands in must be refused with an error, never crash the
	// command or the server's start.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML document cannot be read (%v); check its structure", r)
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return yamlError(data, err)
	}
	empty := true
	for _, doc := range f.Docs {
		if _, isNull := doc.Body.(*ast.NullNode); doc.Body != nil && !isNull {
			empty = false
		}
	}
	if empty {
		// A file of comments only sets nothing; decoding it would zero v.
		return nil
	}
	for _, doc := range f.Docs {
		if n, msg := checkScalars(doc.Body, reflect.TypeOf(v)); n != nil {
			return &yamlKeyError{Key: dotted(n.GetPath()), Msg: msg, Line: n.GetToken().Position.Line}
		}
	}
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return yamlError(data, err)
	}
	return nil
}

// yamlError rewrites an error of the YAML library into "key: message (line N)".
func yamlError(data []byte, err error) error {
	var yerr yaml.Error
	if !errors.As(err, &yerr) {
		return err
	}
	msg := yerr.GetMessage()
	var terr *yaml.TypeError
	var uerr *yaml.UnknownFieldError
	switch {
	case errors.As(err, &terr):
		msg = "must be " + describeType(terr.DstType)
	case errors.As(err, &uerr):
		msg = "unknown key"
	}
	tk := yerr.GetToken()
	if tk == nil || tk.Position == nil {
		return errors.New(msg)
	}
	return &yamlKeyError{Key: pathAt(data, tk.Position), Msg: msg, Line: tk.Position.Line}
}

// yamlKeyError is a problem at one key of a YAML document. Key is dotted
// ("server.addr", "clients[1].id"); it is empty when the document does not
// parse far enough to tell.
type yamlKeyError struct {
	Key  string
	Msg  string
	Line int
}

func (e *yamlKeyError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s (line %d)", e.Key, e.Msg, e.Line)
}

var durationType = reflect.TypeOf(time.Duration(0))

// describeType names what a value of t looks like in YAML.
func describeType(t reflect.Type) string {
	if t == nil {
		return "of another type"
	}
	if t == durationType {
		return "a duration such as 90s, 5m or 12h"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, not negative"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return "of type " + t.String()
}

// pathAt returns the dotted path of the mapping entry whose key or value
// starts at pos, or "" when none does.
func pathAt(data []byte, pos *token.Position) string {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return ""
	}
	var found string
	for _, doc := range f.Docs {
		ast.Walk(visitFunc(func(n ast.Node) bool {
			if found != "" {
				return false
			}
			mv, ok := n.(*ast.MappingValueNode)
			if !ok || mv.Value == nil {
				return true
			}
			if samePos(mv.Key.GetToken(), pos) || samePos(mv.Value.GetToken(), pos) {
				found = dotted(mv.Value.GetPath())
				return false
			}
			return true
		}), doc)
	}
	return found
}

// checkScalars walks the document along the Go type t and returns the
// first scalar the decoder would accept too leniently or report without a
// position: a duration that does not parse, or a number with a fraction
// bound for an integer (which the decoder would truncate).
func checkScalars(n ast.Node, t reflect.Type) (ast.Node, string) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch x := n.(type) {
	case nil, *ast.NullNode:
		return nil, ""
	case *ast.AnchorNode:
		return checkScalars(x.Value, t)
	case *ast.TagNode:
		return checkScalars(x.Value, t)
	}
	if t == nil {
		return nil, ""
	}
	switch {
	case t == durationType:
		if s, ok := n.(*ast.StringNode); ok {
			if _, err := time.ParseDuration(s.Value); err != nil {
				return n, fmt.Sprintf("%q is not a duration (use Go duration syntax such as 90s, 5m or 12h)", s.Value)
			}
		}
	case isInteger(t.Kind()):
		if _, ok := n.(*ast.FloatNode); ok {
			return n, "must be " + describeType(t)
		}
	case t.Kind() == reflect.Struct:
		m, ok := n.(*ast.MappingNode)
		if !ok {
			return nil, ""
		}
		for _, mv := range m.Values {
			if ft, ok := fieldByTag(t, mv.Key.GetToken().Value); ok {
				if bad, msg := checkScalars(mv.Value, ft); bad != nil {
					return bad, msg
				}
			}
		}
	case t.Kind() == reflect.Slice:
		s, ok := n.(*ast.SequenceNode)
		if !ok {
			return nil, ""
		}
		for _, v := range s.Values {
			if bad, msg := checkScalars(v, t.Elem()); bad != nil {
				return bad, msg
			}
		}
	}
	return nil, ""
}

func isInteger(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// fieldByTag returns the type of the field of struct t whose yaml tag is name.
func fieldByTag(t reflect.Type, name string) (reflect.Type, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == name {
			return f.Type, true
		}
	}
	return nil, false
}

type visitFunc func(ast.Node) bool

func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	if f(n) {
		return f
	}
	return nil
}

func samePos(tk *token.Token, pos *token.Position) bool {
	return tk != nil && tk.Position != nil && tk.Position.Line == pos.Line && tk.Position.Column == pos.Column
}

// dotted turns a YAML path ("$.server.addr", "$.clients[0].id") into the
// form the documentation uses ("server.addr", "clients[0].id").
func dotted(p string) string {
	return strings.TrimPrefix(strings.TrimPrefix(p, "$"), ".")
}
