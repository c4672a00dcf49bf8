//! Which API a request is for, decided from its method and path alone.
//!
//! Agents put their base URL in front of the API path (`/v1/messages`,
//! `/anthropic/v1/messages`, `/v1beta/models/x:generateContent`), so paths are
//! matched by suffix, and query strings (`?beta=true`, `?alt=sse`) never matter.

use axum::http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    AnthropicMessages,
    AnthropicCountTokens,
    OpenAiResponses,
    OpenAiChat,
    Gemini {
        model: String,
        stream: bool,
    },
    GeminiCountTokens {
        model: String,
    },
    /// `GET …/models`: an empty model list.
    Models,
    /// Anything else, including `HEAD /`: 200 `{}` so that probes never fail.
    Other,
}

impl Route {
    pub fn classify(method: &Method, path: &str) -> Self {
        let path = path.trim_end_matches('/');
        if method == Method::GET && path.ends_with("/models") {
            return Self::Models;
        }
        if method != Method::POST {
            return Self::Other;
        }
        if path.ends_with("/messages/count_tokens") {
            Self::AnthropicCountTokens
        } else if path.ends_with("/messages") {
            Self::AnthropicMessages
        } else if path.ends_with("/responses") {
            Self::OpenAiResponses
        } else if path.ends_with("/chat/completions") {
            Self::OpenAiChat
        } else {
            Self::gemini(path).unwrap_or(Self::Other)
        }
    }

    /// `…/<model>:<action>` in the last path segment (`:` may arrive as `%3A`).
    fn gemini(path: &str) -> Option<Self> {
        let last = path.rsplit('/').next()?;
        let last = last.replace("%3A", ":").replace("%3a", ":");
        let (model, action) = last.rsplit_once(':')?;
        let model = model.to_string();
        match action {
            "generateContent" => Some(Self::Gemini {
                model,
                stream: false,
            }),
            "streamGenerateContent" => Some(Self::Gemini {
                model,
                stream: true,
            }),
            "countTokens" => Some(Self::GeminiCountTokens { model }),
            _ => None,
        }
    }

    /// The API kind, as written to the request log.
    pub fn api(&self) -> &'static str {
        match self {
            Self::AnthropicMessages => "anthropic.messages",
            Self::AnthropicCountTokens => "anthropic.count_tokens",
            Self::OpenAiResponses => "openai.responses",
            Self::OpenAiChat => "openai.chat",
            Self::Gemini { stream: false, .. } => "gemini.generate",
            Self::Gemini { stream: true, .. } => "gemini.stream",
            Self::GeminiCountTokens { .. } => "gemini.count_tokens",
            Self::Models => "models",
            Self::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(path: &str) -> Route {
        Route::classify(&Method::POST, path)
    }

    #[test]
    fn suffixes_and_prefixes() {
        assert_eq!(post("/v1/messages"), Route::AnthropicMessages);
        assert_eq!(post("/anthropic/v1/messages/"), Route::AnthropicMessages);
        assert_eq!(
            post("/v1/messages/count_tokens"),
            Route::AnthropicCountTokens
        );
        assert_eq!(post("/v1/responses"), Route::OpenAiResponses);
        assert_eq!(post("/api/v1/chat/completions"), Route::OpenAiChat);
        assert_eq!(
            post("/v1beta/models/gemini-3.8-flash:streamGenerateContent"),
            Route::Gemini {
                model: "gemini-3.8-flash".into(),
                stream: true
            }
        );
        assert_eq!(
            post("/v1beta/models/gemini-3.5-flash-lite%3AgenerateContent"),
            Route::Gemini {
                model: "gemini-3.5-flash-lite".into(),
                stream: false
            }
        );
        assert_eq!(
            post("/v1beta/models/g:countTokens"),
            Route::GeminiCountTokens { model: "g".into() }
        );
        assert_eq!(post("/v1beta/models/g:embedContent"), Route::Other);
        assert_eq!(post("/"), Route::Other);
    }

    #[test]
    fn non_post_methods() {
        assert_eq!(Route::classify(&Method::GET, "/v1/models"), Route::Models);
        assert_eq!(
            Route::classify(&Method::GET, "/v1beta/models/"),
            Route::Models
        );
        assert_eq!(Route::classify(&Method::HEAD, "/"), Route::Other);
        assert_eq!(Route::classify(&Method::GET, "/v1/messages"), Route::Other);
    }
}
