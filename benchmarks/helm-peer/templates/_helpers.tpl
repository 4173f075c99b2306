{{- /* A StringMatch: exactly one of exact, prefix, regex. */ -}}
{{- define "peer.stringMatch" -}}
{{- range $kind, $value := . }}{{ $kind }}: {{ $value | quote }}{{ end }}
{{- end -}}
