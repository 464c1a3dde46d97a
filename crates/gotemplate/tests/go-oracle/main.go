// Command go-oracle renders Go templates the way the Sealed Secrets controller
// renders spec.template.data: text/template with Sprig's function map minus env,
// expandenv and getHostByName, executed over a map[string]string of the decrypted
// items. gotemplate's differential test compares its output with this.
//
// Input (stdin): a JSON array of {"template": "...", "data": {"name": "<base64>"}}.
// Output (stdout): a JSON array of {"out": "<base64>"} or {"err": "..."}.
package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"text/template"

	sprig "github.com/Masterminds/sprig"
)

type request struct {
	Template string            `json:"template"`
	Data     map[string]string `json:"data"`
}

type response struct {
	Out *string `json:"out,omitempty"`
	Err *string `json:"err,omitempty"`
}

func main() {
	funcs := sprig.TxtFuncMap()
	delete(funcs, "env")
	delete(funcs, "expandenv")
	delete(funcs, "getHostByName")

	var reqs []request
	if err := json.NewDecoder(os.Stdin).Decode(&reqs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := make([]response, 0, len(reqs))
	for _, r := range reqs {
		out = append(out, render(funcs, r))
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func render(funcs template.FuncMap, r request) (resp response) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprint("panic: ", p)
			resp = response{Err: &msg}
		}
	}()
	data := map[string]string{}
	for k, v := range r.Data {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			panic(err)
		}
		data[k] = string(b)
	}
	t, err := template.New("t").Funcs(funcs).Parse(r.Template)
	if err != nil {
		msg := err.Error()
		return response{Err: &msg}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		msg := err.Error()
		return response{Err: &msg}
	}
	s := base64.StdEncoding.EncodeToString(buf.Bytes())
	return response{Out: &s}
}
