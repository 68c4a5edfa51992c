/* Routing: the table of every HTTP route, its method, whether it needs a token, and its
 * handler. routes_dispatch authenticates (401), checks the role the route needs (403),
 * and calls the handler, which sets a reply or suspends the request. */
#ifndef FNBOX_ROUTES_H
#define FNBOX_ROUTES_H

#include "gateway/http.h"

void routes_dispatch(struct request *r);

#endif
