"""Replies of Minimal mode (no LLM): extractive answers and curated texts.

Bump VERSION on any wording change.
"""

NAME, VERSION = "minimal_replies", 4

ANSWER_INTRO = "Here is what our help center says about that:"
ANSWER_OUTRO = "Open a numbered source to read the whole article. Did that answer your question?"

UNKNOWN = (
    "I'm sorry, I couldn't find an answer to that in our help center, and I'd rather not guess. "
    "You can rephrase your question, or ask for a person and our support team will help you."
)
REFUSE_MANIPULATION = (
    "I can't do that. I'm the help-center assistant: I answer questions about your orders, deliveries, "
    "returns, billing, your account and our products, from our help center, and my instructions stay as "
    "they are. What can I help you with?"
)
"""The reply to a message the input rails blocked as an attempt to manipulate the assistant."""
WITHHELD = "[message withheld: blocked by the input rails]"
"""What the conversation history keeps of a blocked message, so no later model call ever reads it."""
EMPTY = "It looks like your message was empty. What can I help you with?"
TRUNCATED_NOTE = "(Your message was very long, so I read only its first part.)"
GREETING = (
    "Hello! I'm the help-center assistant. Ask me about orders, shipping, returns, billing or your account."
)
THANKS = "You're welcome! Is there anything else I can help you with?"
HANDOFF = (
    "I'm connecting you with a member of our support team. They will see this conversation, so you won't "
    "need to repeat yourself. You can keep writing here while you wait."
)
HANDOFF_NOTES = {
    "self_harm": (
        "If you are thinking about harming yourself, please reach out right now to someone you trust, "
        "your local emergency number, or a crisis line such as 988 in the US "
        "or 116 123 in the UK and Ireland."
    ),
    "safety": (
        "If anyone is in danger, or something is smoking, sparking or smells of gas, stop using it, "
        "move away and call your local emergency number first."
    ),
}
"""Said before the handoff notice for topics where waiting for a person is not enough."""
CONTACT = "Here is how to reach our support team. If you'd rather talk to a person in this chat, just say so."
FAILURE = (
    "Sorry, something went wrong on our side while answering. Your message is saved; "
    "please try again in a moment, or ask for a person."
)
OFFLINE = (
    "Our help center is offline right now, so I can't look up an answer, and I won't guess. "
    "Your message is saved and our support team will follow up. Leave your email or phone number below "
    "if you'd like us to contact you, or try again in a few minutes."
)
CONTACT_SAVED = "Thank you. We've saved your details and a member of our support team will get back to you."
