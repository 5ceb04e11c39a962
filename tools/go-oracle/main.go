// Command oracle answers, with the Go toolchain's own encoding/json, what
// json.NewDecoder(r).Decode(&v) and json.NewEncoder(w).Encode(v) do for the ByteStreamRPC
// message types. It reads a JSON list of cases on stdin and writes a JSON list of results
// on stdout (same order).
//
// Case kinds:
//
//	{"op":"decode","type":"*rpc.RequestHeader","input":"<base64>"}
//	{"op":"encode_string","input":"<base64 of the Go string's bytes>"}
//
// A decode result holds the error text of Decode over a reader that ends with io.EOF
// ("error"), the Encoder output of the decoded value ("encoded", also after an error),
// and the error text of Decode over a reader that ends with io.ErrUnexpectedEOF instead
// ("truncated_error"), which is what the original's chunk reader returns when the byte
// stream breaks inside a chunk header.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"

	"oracle/rpc"
	"oracle/zfs"
)

type inCase struct {
	Op    string `json:"op"`
	Type  string `json:"type"`
	Input []byte `json:"input"`
}

type outCase struct {
	Op             string  `json:"op"`
	Type           string  `json:"type,omitempty"`
	Input          []byte  `json:"input"`
	Error          *string `json:"error"`
	Encoded        string  `json:"encoded"`
	TruncatedError *string `json:"truncated_error,omitempty"`
}

// newTarget returns a pointer to a fresh zero value of the named type.
func newTarget(name string) (interface{}, error) {
	var p interface{}
	switch name {
	case "*rpc.RequestHeader":
		p = &rpc.RequestHeader{}
	case "*rpc.ResponseHeader":
		p = &rpc.ResponseHeader{}
	case "*rpc.ByteStreamRPCProtocolVersionRequest":
		p = &rpc.ByteStreamRPCProtocolVersionRequest{}
	case "*rpc.FilesystemRequest":
		p = &rpc.FilesystemRequest{}
	case "*rpc.FilesystemVersionsRequest":
		p = &rpc.FilesystemVersionsRequest{}
	case "*rpc.InitialTransferRequest":
		p = &rpc.InitialTransferRequest{}
	case "*rpc.IncrementalTransferRequest":
		p = &rpc.IncrementalTransferRequest{}
	case "*rpc.PullMeRequest":
		p = &rpc.PullMeRequest{}
	case "*rpc.CloseRequest":
		p = &rpc.CloseRequest{}
	case "*[]zfs.DatasetPath":
		p = &[]zfs.DatasetPath{}
		*(p.(*[]zfs.DatasetPath)) = nil
	case "*[]zfs.FilesystemVersion":
		p = &[]zfs.FilesystemVersion{}
		*(p.(*[]zfs.FilesystemVersion)) = nil
	default:
		return nil, fmt.Errorf("unknown type %q", name)
	}
	if got := reflect.TypeOf(p).String(); got != name {
		return nil, fmt.Errorf("type name mismatch: %q vs %q", got, name)
	}
	return p, nil
}

// truncatedReader yields its bytes, then io.ErrUnexpectedEOF.
type truncatedReader struct{ r *bytes.Reader }

func (t *truncatedReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func errText(err error) *string {
	if err == nil {
		return nil
	}
	s := err.Error()
	return &s
}

func encodeValue(v interface{}) string {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		panic(err)
	}
	return buf.String()
}

func run(c inCase) (outCase, error) {
	out := outCase{Op: c.Op, Type: c.Type, Input: c.Input}
	switch c.Op {
	case "decode":
		p, err := newTarget(c.Type)
		if err != nil {
			return out, err
		}
		out.Error = errText(json.NewDecoder(bytes.NewReader(c.Input)).Decode(p))
		out.Encoded = encodeValue(reflect.ValueOf(p).Elem().Interface())
		q, _ := newTarget(c.Type)
		tr := &truncatedReader{bytes.NewReader(c.Input)}
		terr := errText(json.NewDecoder(tr).Decode(q))
		if terr == nil {
			s := ""
			terr = &s
		}
		out.TruncatedError = terr
	case "encode_string":
		out.Encoded = encodeValue(string(c.Input))
	default:
		return out, fmt.Errorf("unknown op %q", c.Op)
	}
	return out, nil
}

func main() {
	var cases []inCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "oracle: reading cases:", err)
		os.Exit(2)
	}
	results := make([]outCase, 0, len(cases))
	for i, c := range cases {
		r, err := run(c)
		if err != nil {
			fmt.Fprintf(os.Stderr, "oracle: case %d: %v\n", i, err)
			os.Exit(2)
		}
		results = append(results, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "oracle: writing results:", err)
		os.Exit(2)
	}
}
