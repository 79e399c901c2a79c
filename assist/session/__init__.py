"""One call at a time: transcript events in, what the agent should see out."""
from assist.session.call import CallSession
from assist.session.events import CallEvent, CallSummary, InsightEvent

__all__ = ["CallSession", "CallEvent", "CallSummary", "InsightEvent"]
