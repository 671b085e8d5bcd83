#include "lib/attach/libxml_loader.h"

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <libxml/xmlstring.h>
#include <libxml/xpath.h>


#include "lib/util/lazy_library.h"

namespace volcrypt {
namespace {

// libxml2's soname since 2.x (meson.build asks for >= 2.9).
LazyLibrary& Library() {
  static LazyLibrary lib("libxml2.so.2");
  return lib;
}

void* Symbol(const char* name) { return Library().Symbol(name); }

template <typename F>
F Resolve(const char* name) {
  return reinterpret_cast<F>(Symbol(name));
}

}  // namespace

void XmlFree(void* p) {
  // The variable xmlFree holds libxml2's deallocator.
  static auto* const slot = static_cast<xmlFreeFunc*>(Symbol("xmlFree"));
  if (slot != nullptr && *slot != nullptr && p != nullptr) (*slot)(p);
}

std::string LibxmlLoadError() { return Library().error(); }

}  // namespace volcrypt

#define VOLCRYPT_XML_FORWARD(name, fail, ...)                                  \
  static const auto real = volcrypt::Resolve<decltype(&::name)>(#name);        \
  if (real == nullptr) return fail;                                            \
  return real(__VA_ARGS__)
#define VOLCRYPT_XML_FORWARD_VOID(name, ...)                                   \
  static const auto real = volcrypt::Resolve<decltype(&::name)>(#name);        \
  if (real != nullptr) real(__VA_ARGS__)

extern "C" {

void xmlFreeDoc(xmlDocPtr cur) { VOLCRYPT_XML_FORWARD_VOID(xmlFreeDoc, cur); }
void xmlBufferFree(xmlBufferPtr buf) { VOLCRYPT_XML_FORWARD_VOID(xmlBufferFree, buf); }
xmlXPathContextPtr xmlXPathNewContext(xmlDocPtr doc) {
  VOLCRYPT_XML_FORWARD(xmlXPathNewContext, nullptr, doc);
}
void xmlXPathFreeObject(xmlXPathObjectPtr obj) {
  VOLCRYPT_XML_FORWARD_VOID(xmlXPathFreeObject, obj);
}
void xmlXPathFreeContext(xmlXPathContextPtr ctxt) {
  VOLCRYPT_XML_FORWARD_VOID(xmlXPathFreeContext, ctxt);
}
xmlXPathObjectPtr xmlXPathEvalExpression(const xmlChar* str, xmlXPathContextPtr ctxt) {
  VOLCRYPT_XML_FORWARD(xmlXPathEvalExpression, nullptr, str, ctxt);
}
int xmlStrEqual(const xmlChar* str1, const xmlChar* str2) {
  VOLCRYPT_XML_FORWARD(xmlStrEqual, 0, str1, str2);
}
long xmlSaveTree(xmlSaveCtxtPtr ctxt, xmlNodePtr node) {
  VOLCRYPT_XML_FORWARD(xmlSaveTree, -1, ctxt, node);
}
xmlSaveCtxtPtr xmlSaveToBuffer(xmlBufferPtr buffer, const char* encoding, int options) {
  VOLCRYPT_XML_FORWARD(xmlSaveToBuffer, nullptr, buffer, encoding, options);
}
int xmlSaveClose(xmlSaveCtxtPtr ctxt) { VOLCRYPT_XML_FORWARD(xmlSaveClose, -1, ctxt); }
xmlDocPtr xmlReadMemory(const char* buffer, int size, const char* URL, const char* encoding,
                        int options) {
  VOLCRYPT_XML_FORWARD(xmlReadMemory, nullptr, buffer, size, URL, encoding, options);
}
xmlChar* xmlNodeGetContent(const xmlNode* cur) {
  VOLCRYPT_XML_FORWARD(xmlNodeGetContent, nullptr, cur);
}
int xmlNodeDump(xmlBufferPtr buf, xmlDocPtr doc, xmlNodePtr cur, int level, int format) {
  VOLCRYPT_XML_FORWARD(xmlNodeDump, -1, buf, doc, cur, level, format);
}
void xmlNodeAddContent(xmlNodePtr cur, const xmlChar* content) {
  VOLCRYPT_XML_FORWARD_VOID(xmlNodeAddContent, cur, content);
}
xmlAttrPtr xmlNewProp(xmlNodePtr node, const xmlChar* name, const xmlChar* value) {
  VOLCRYPT_XML_FORWARD(xmlNewProp, nullptr, node, name, value);
}
xmlNodePtr xmlNewNode(xmlNsPtr ns, const xmlChar* name) {
  VOLCRYPT_XML_FORWARD(xmlNewNode, nullptr, ns, name);
}
xmlDocPtr xmlNewDoc(const xmlChar* version) { VOLCRYPT_XML_FORWARD(xmlNewDoc, nullptr, version); }
xmlNodePtr xmlNewChild(xmlNodePtr parent, xmlNsPtr ns, const xmlChar* name,
                       const xmlChar* content) {
  VOLCRYPT_XML_FORWARD(xmlNewChild, nullptr, parent, ns, name, content);
}
xmlChar* xmlGetProp(const xmlNode* node, const xmlChar* name) {
  VOLCRYPT_XML_FORWARD(xmlGetProp, nullptr, node, name);
}
xmlNodePtr xmlDocSetRootElement(xmlDocPtr doc, xmlNodePtr root) {
  VOLCRYPT_XML_FORWARD(xmlDocSetRootElement, nullptr, doc, root);
}
int xmlCheckUTF8(const unsigned char* utf) { VOLCRYPT_XML_FORWARD(xmlCheckUTF8, 0, utf); }
int xmlBufferLength(const xmlBuffer* buf) { VOLCRYPT_XML_FORWARD(xmlBufferLength, 0, buf); }
xmlBufferPtr xmlBufferCreate(void) { VOLCRYPT_XML_FORWARD(xmlBufferCreate, nullptr); }
const xmlChar* xmlBufferContent(const xmlBuffer* buf) {
  VOLCRYPT_XML_FORWARD(xmlBufferContent, nullptr, buf);
}

}  // extern "C"
