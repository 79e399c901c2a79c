"""Find KB answers for what the customer says: FAISS dense index + kiwi BM25, fused by rank."""
from assist.retrieve.index import VectorIndex, article_key, load_index, save_index
from assist.retrieve.keyword import KeywordIndex, char_bigrams, content_morphemes
from assist.retrieve.search import METHODS, Hit, Method, Searcher

__all__ = ["Hit", "Method", "METHODS", "Searcher", "VectorIndex", "article_key", "load_index",
           "save_index", "KeywordIndex", "char_bigrams", "content_morphemes"]
