package main

import (
	"errors"
	"io"
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	tests := map[string]struct {
		args    []string
		want    options
		wantErr string
	}{
		"no arguments":      {args: nil, want: options{}},
		"helm passes flags": {args: []string{"--part-of=ctao", "--chart", "dpps-1.0.0"}, want: options{partOf: "ctao", chart: "dpps-1.0.0"}},
		"single dash works": {args: []string{"-config", "c.yaml"}, want: options{configFile: "c.yaml"}},
		"transform list":    {args: []string{"--transforms", " provenance, ,x "}, want: options{transforms: []string{"provenance", "x"}}},
		"report":            {args: []string{"--report=r.txt"}, want: options{reportFile: "r.txt"}},
		"catalog":           {args: []string{"--catalog", "site-catalog.yaml"}, want: options{catalog: "site-catalog.yaml"}},
		"stray argument":    {args: []string{"in.yaml"}, wantErr: `unexpected argument "in.yaml" (the manifests are read from stdin)`},
		"unknown flag":      {args: []string{"--nope"}, wantErr: "flag provided but not defined: -nope"},
		"missing value":     {args: []string{"--config"}, wantErr: "flag needs an argument: -config"},
		"no caps":           {args: []string{"--max-objects", "-1", "--max-input-bytes=-1"}, want: options{maxObjects: -1, maxBytes: -1}},
		"caps":              {args: []string{"--max-objects", "7", "--max-input-bytes=1000"}, want: options{maxObjects: 7, maxBytes: 1000}},
		"zero objects":      {args: []string{"--max-objects", "0"}, wantErr: "--max-objects 0: want a positive number, or -1 for no cap"},
		"negative objects":  {args: []string{"--max-objects", "-7"}, wantErr: "--max-objects -7: want a positive number, or -1 for no cap"},
		"zero bytes":        {args: []string{"--max-input-bytes", "0"}, wantErr: "--max-input-bytes 0: want a positive number, or -1 for no cap"},
		"negative bytes":    {args: []string{"--max-input-bytes=-2"}, wantErr: "--max-input-bytes -2: want a positive number, or -1 for no cap"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := parseArgs(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseArgsHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		if _, err := parseArgs(args, io.Discard); !errors.Is(err, errHelp) {
			t.Errorf("%v: got %v, want errHelp", args, err)
		}
	}
}
