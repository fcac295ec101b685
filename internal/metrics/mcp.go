package metrics

import "github.com/prometheus/client_golang/prometheus"

// newMCPToolCalls is the MCP endpoint's counter. Its labels are bounded: the bot is the one
// the key opened, the tool one of the server's own (Unknown for any other name), and the
// outcome "ok" or one of the broker's stable error codes.
func newMCPToolCalls() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "oauthbroker_mcp_tool_calls_total",
		Help: "MCP tool calls by bot, tool and outcome: ok, or the error code the tool answered (not_linked, rate_limited, …). A provider's own 4xx or 5xx answer to call_api is ok here; oauthbroker_proxy_calls_total counts its status.",
	}, []string{"bot", "tool", "outcome"})
}

// MCPToolCall counts one MCP tool call.
func (m *Metrics) MCPToolCall(bot, tool, outcome string) {
	m.mcpToolCalls.WithLabelValues(bot, tool, outcome).Inc()
}
